"""Pure image-to-plan functions: capture, preprocessing, stroke painter, plan format, metrics."""
