"""Pigeon's benchmarks: ``python -m bench relay | private | all | compare | plot | chaos |
hot-group | group | sync | team | sockets``.

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
    compare.py   relay, Pigeon and Synapse on one scenario: ratios to the relay, JSON, plots
    plots.py     PNG plots of a results JSON (matplotlib)
    synapse/     Matrix Synapse: its own venv, config, users and rooms, an HTTP load worker
    team.py      the team scenario: private at 10 pairs x 4, both modes, beside the relay
    serving.py   the server under test for the scenarios below, and the settings they change
    group_cli.py / group_run.py   hot-group and group: flags, output; processes, figures
    group_setup.py  registering the members, creating the group, senders' second devices
    members.py   a group load process: members following the client algorithm, senders
    group_checks.py  every ack, the stored history, every member; ack -> member latency
    sync_cli.py / sync_run.py   sync: the backlog, the reconnecting client, the SDK
    sockets.py   the sockets scenario: RSS per held socket, Pigeon against two baselines
    holder.py    a worker process of it: opens sockets, pings at the heartbeat interval
    bare.py      a bare ``websockets`` server (library defaults), the sockets baseline

Data flow::

    cli --starts--> server process(es)          cli --registers users--> Pigeon HTTP API
    cli --> runner --spawns--> loadgen workers --WebSocket--> server --> loadgen receivers
    workers --shared counters--> runner (progress bar); --result queue--> runner --> report
"""
