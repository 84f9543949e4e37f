"""What several methods share: the classification loss, weight averaging and its Trainer callbacks."""
