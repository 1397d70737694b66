"""The cost of one acting step, per observation kind: a numpy forward pass (flat and one-hot
observations) against one compiled TensorFlow call (a CNN torso on an image).

    python benchmarks/act_cost.py [--repeats 2000]

Each agent is built with its defaults and asked for one action of one observation (a training
step with one environment), ``repeats`` times; the median microseconds per call go to
benchmarks/results/act_cost.json.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from gymnasium import spaces

HERE = Path(__file__).resolve().parent
CASES = {
    "CartPole-like Box(4)": spaces.Box(-1, 1, (4,)),
    "Taxi-like Discrete(500), one-hot": spaces.Discrete(500),
    "image 10x10x3 (two 3x3 convolutions)": spaces.Box(0, 255, (10, 10, 3), np.uint8),
    "image 84x84x4 (the Nature CNN)": spaces.Box(0, 255, (84, 84, 4), np.uint8),
}


def median_microseconds(agent, obs, repeats):
    agent.act(obs, explore=True)  # traces a compiled call once
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        agent.act(obs, explore=True)
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)) * 1e6, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2000, help="Calls timed per case [2000].")
    args = parser.parse_args()
    from advdl.loading.manager import get_registry

    registry = get_registry()
    rows = []
    for name in ("dqn", "a2c"):
        spec = registry.algorithm(name)
        for case, space in CASES.items():
            settings = {"n_envs": 1} if name == "a2c" else {"buffer_size": 1000}
            agent = spec.load_class()(spec.config(**settings), space, spaces.Discrete(4), seed=0, total_steps=1000)
            obs = np.stack([space.sample()])
            rows.append({"algorithm": name, "observation": case, "path": "TensorFlow" if agent_image(agent) else "numpy",
                         "microseconds_per_act": median_microseconds(agent, obs, args.repeats)})
            print(f"{name:4s} {case:40s} {rows[-1]['path']:10s} {rows[-1]['microseconds_per_act']:8.1f} us")
    out = HERE / "results" / "act_cost.json"
    out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "rows": rows}, indent=2) + "\n")
    print(f"-> {out}")


def agent_image(agent):
    encoder = getattr(agent, "encoder", None)
    encoder = encoder if hasattr(encoder, "image") else getattr(agent, "obs_encoder", None)
    return bool(encoder is not None and encoder.image)


if __name__ == "__main__":
    main()
