"""The engine: data, model, training, evaluation, weights, preprocessing, and the session
state the window shows. Never imports Qt (an import-linter contract), so a headless user
can train and evaluate without a display."""
