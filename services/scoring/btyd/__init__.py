"""The purchase-count models (BG/NBD, MBG/NBD, Pareto/NBD), the Gamma-Gamma order-value model,
their maximum-likelihood fitting and special functions, and the discounted customer lifetime value."""
