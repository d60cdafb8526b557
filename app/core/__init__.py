"""The functional core: pure decisions over plain data, no I/O.

Nothing here imports the network, the file system, threads or the clock's side effects; the
shell (`app.shell`) feeds it data and carries its answers out. Tests drive it with plain values.
"""
