"""The benchmark (`python -m benchmarks`, dev-only: not in the wheel): one workload over the
backends you name, measured two ways.

- `workload`: the operations and their sizes, shared by both modes;
- `service`: calls the services directly (no HTTP), timing each call, counting AWS requests;
- `http`: drives `hangar serve` subprocesses with `load` (a separate, cheap client process)
  and relates every figure to a bare FastAPI app (`reference`) measured in the same run;
- `memory`: the server's peak RSS while a large file goes up and comes back down;
- `report`: rich tables, JSON and a PNG chart;
- `servers`: the server processes it starts (the tests start theirs with it too).
"""
