"""The 6-state world of the book's chapter 9 (Q-learning).

    0 1 2        start 0, goal 2 (+100 for entering it), hole 5 (-100 for entering it);
    3 4 5        an episode ends in 2 or 5. Actions: 0 Left, 1 Down, 2 Right, 3 Up.

Moves are deterministic; a move into the wall leaves the agent where it is (reward 0).
"""

import gymnasium as gym
import numpy as np
from gymnasium import spaces

LEFT, DOWN, RIGHT, UP = range(4)
ACTION_NAMES = ("Left", "Down", "Right", "Up")
ROWS, COLS = 2, 3
START, GOAL, HOLE = 0, 2, 5
REWARDS = {GOAL: 100.0, HOLE: -100.0}


def next_state(state, action):
    row, col = divmod(state, COLS)
    if action == LEFT:
        col = max(col - 1, 0)
    elif action == RIGHT:
        col = min(col + 1, COLS - 1)
    elif action == UP:
        row = max(row - 1, 0)
    elif action == DOWN:
        row = min(row + 1, ROWS - 1)
    return row * COLS + col


class QWorldEnv(gym.Env):
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, render_mode=None):
        self.observation_space = spaces.Discrete(ROWS * COLS)
        self.action_space = spaces.Discrete(len(ACTION_NAMES))
        self.render_mode = render_mode
        self.state = START

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = START
        return self.state, {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}; expected 0..3 ({', '.join(ACTION_NAMES)})")
        self.state = next_state(self.state, int(action))
        reward = REWARDS.get(self.state, 0.0)
        return self.state, reward, self.state in REWARDS, False, {}

    def render(self):
        if self.render_mode == "ansi":
            cells = ["G" if s == GOAL else "H" if s == HOLE else "." for s in range(ROWS * COLS)]
            cells[self.state] = "A"
            return "\n".join(" ".join(cells[r * COLS:(r + 1) * COLS]) for r in range(ROWS)) + "\n"
        if self.render_mode == "rgb_array":
            size = 64
            image = np.full((ROWS * size, COLS * size, 3), 255, dtype=np.uint8)
            colours = {GOAL: (60, 180, 75), HOLE: (30, 30, 30), self.state: (0, 90, 200)}
            for s, colour in colours.items():
                r, c = divmod(s, COLS)
                image[r * size + 4:(r + 1) * size - 4, c * size + 4:(c + 1) * size - 4] = colour
            return image
        return None
