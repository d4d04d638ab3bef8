"""Pigeon's benchmarks: ``python -m bench relay | private | all | chaos | sockets``.

Modules and their roles::

    cli.py       argument parsing and the scenarios (relay, private, all)
    relay.py     the bare WebSocket relay (baseline), two server implementations
    servers.py   child processes under test: relay, ``pigeon serve``; ports, health waits
    cluster.py   a fresh PostgreSQL database + Redis database + ``pigeon cluster``
    accounts.py  Pigeon users for a run through the HTTP API (register, friends, gateways)
    runner.py    one load phase over several worker processes, progress bar, figures
    loadgen.py   a worker process: sockets, senders (closed/open loop), receivers
    frames.py    the frames of the two dialects (relay, Pigeon), sans-I/O
    checks.py    per-pair correctness: loss, duplicates, order, seq agreement
    stats.py     percentiles and the figures of one run
    report.py    the machine, the printed table, the JSON result file
    sockets.py   the sockets scenario: RSS per held socket, Pigeon against two baselines
    holder.py    a worker process of it: opens sockets, pings at the heartbeat interval
    bare.py      a bare ``websockets`` server (library defaults), the sockets baseline

Data flow::

    cli --starts--> server process(es)          cli --registers users--> Pigeon HTTP API
    cli --> runner --spawns--> loadgen workers --WebSocket--> server --> loadgen receivers
    workers --shared counters--> runner (progress bar); --result queue--> runner --> report
"""
