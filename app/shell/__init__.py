"""The imperative shell: everything that talks to the cluster, the network, files or the terminal.

It imports the core (`app.core`), never the other way round.
"""
