"""Per-customer scores: the purchase summary, RFM, health and its evaluation standard, value tiers,
lifecycle stages, and the model-based predictions for a whole population."""
