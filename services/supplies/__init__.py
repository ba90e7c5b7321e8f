"""Canvases, paint per colour and brushes: consumption per plan, reorders, deliveries."""
