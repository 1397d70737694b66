"""A grid world seen only as pixels, for agents with a CNN torso.

A ``size`` x ``size`` grid rendered as a ``size`` x ``size`` x 3 uint8 image: the agent's cell is
red (255 in channel 0), the goal's green (255 in channel 1), the rest black. Both are placed at
random at every reset, so the agent must find them in the image. Actions: 0 Left, 1 Down, 2 Right,
3 Up (a move into the wall stays put). Reward: +1 for reaching the goal (the episode ends), -0.01
for every other step; the registered ``advdl/PixelGrid-v0`` cuts episodes at 40 steps. The optimum
returns 1 - 0.01 x (the mean distance between two cells, 2 (size^2 - 1) / (3 size), less one):
0.944 on the 10x10 grid.
"""

import gymnasium as gym
import numpy as np
from gymnasium import spaces

MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))  # (row, column) steps of Left, Down, Right, Up
STEP_REWARD, GOAL_REWARD = -0.01, 1.0


class PixelGridEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, size=10, render_mode=None):
        if not (isinstance(size, int) and 2 <= size <= 64):
            raise ValueError(f"size must be an integer from 2 to 64, got {size!r}")
        self.size, self.render_mode = size, render_mode
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = spaces.Discrete(4)
        self.agent = np.zeros(2, np.int64)
        self.goal = np.zeros(2, np.int64)

    def _image(self):
        image = np.zeros((self.size, self.size, 3), np.uint8)
        image[self.agent[0], self.agent[1], 0] = 255
        image[self.goal[0], self.goal[1], 1] = 255
        return image

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        cells = self.np_random.choice(self.size * self.size, size=2, replace=False)
        self.agent = np.array(divmod(int(cells[0]), self.size))
        self.goal = np.array(divmod(int(cells[1]), self.size))
        return self._image(), {}

    def step(self, action):
        self.agent = np.clip(self.agent + MOVES[int(action)], 0, self.size - 1)
        reached = bool(np.array_equal(self.agent, self.goal))
        return self._image(), GOAL_REWARD if reached else STEP_REWARD, reached, False, {}

    def render(self):
        return np.kron(self._image(), np.ones((16, 16, 1), np.uint8))  # 16 screen pixels per cell
