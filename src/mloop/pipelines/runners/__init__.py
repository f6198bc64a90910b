"""Runners decide where and when steps execute; a step never knows which runner runs it."""
