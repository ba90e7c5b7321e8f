"""The robot: daemon, camera, arm drivers, kinematics, calibration, trajectories, filming."""
