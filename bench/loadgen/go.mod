module pullpass/bench/loadgen

go 1.22
