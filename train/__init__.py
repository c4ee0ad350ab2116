"""auroral.train: data sets, models, training loops, scikit-learn baselines, evaluation and plots."""
