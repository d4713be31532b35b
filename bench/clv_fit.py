"""Benchmark: fitting and scoring the CLV models, ours beside lifetimes 0.11.3, in one run.

    .venv/bin/python bench/clv_fit.py [--customers 1000000] [--job-customers 300000] [--only-end-to-end]

1. N synthetic customers drawn from BG/NBD (fixed seed), in whole days: fit time of each model
   with ours and with lifetimes, and the ratio. lifetimes' Pareto/NBD (Nelder-Mead) is run on a
   sample and scaled linearly to N; the output says so.
2. Scoring time: p_alive, expected purchases (30/90/365 days) and CLV for every customer.
3. End to end on a transaction log of M customers: `pulse clv fit` against the same job done
   with lifetimes (pandas read_csv, summary_data_from_transaction_data, fit, predict, write),
   both as fresh processes, so interpreter start-up and imports count for both.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data

from services.scoring.btyd import bgnbd, gamma_gamma, mbgnbd, paretonbd
from services.scoring.btyd.purchase_models import MODELS
from services.scoring.scores.customer_scores import score_customers

# CDNOW's BG/NBD estimates (Fader, Hardie & Lee 2005) with alpha in days; its Gamma-Gamma.
BG_NBD = dict(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
GAMMA_GAMMA = dict(p=6.25, q=3.74, v=15.44)
MAX_AGE_DAYS = 365
AS_OF = "2026-06-30"
REPEATS = 3


def timed(action, repeats=1):
    """Median wall time of `repeats` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def draw_customers(n, seed):
    """Per customer: age T, purchase rate, dropout probability and the repeat purchase times."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, MAX_AGE_DAYS + 1, n).astype(float)
    rate = rng.gamma(BG_NBD["r"], 1 / BG_NBD["alpha"], n)
    dropout = rng.beta(BG_NBD["a"], BG_NBD["b"], n)
    arrivals = rng.poisson(rate * T)
    # BG/NBD: the customer drops out right after a repeat purchase with probability p.
    repeats = np.minimum(arrivals, rng.geometric(dropout))
    owner = np.repeat(np.arange(n), arrivals)
    moments = rng.uniform(0, 1, owner.size) * T[owner]
    order = np.lexsort((moments, owner))
    owner, moments = owner[order], moments[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    kept = rank < repeats[owner]
    return T, repeats.astype(float), owner[kept], np.ceil(moments[kept]), rng


def summary_of(T, owner, purchase_day, n):
    """(x, t_x, T) in whole days: several purchases on one day are one period."""
    periods = np.unique(owner * (MAX_AGE_DAYS + 2) + purchase_day.astype(np.int64))
    customer = periods // (MAX_AGE_DAYS + 2)
    x = np.bincount(customer, minlength=n).astype(float)
    t_x = np.zeros(n)
    np.maximum.at(t_x, customer, (periods % (MAX_AGE_DAYS + 2)).astype(float))
    return x, t_x, T


def order_values(rng, x):
    """Mean repeat order value per customer from the Gamma-Gamma model; 0 without a repeat."""
    spend_rate = rng.gamma(GAMMA_GAMMA["q"], 1 / GAMMA_GAMMA["v"], x.size)
    mean = rng.gamma(GAMMA_GAMMA["p"] * np.maximum(x, 1), 1 / (spend_rate * np.maximum(x, 1)))
    return np.where(x > 0, np.round(mean, 2), 0.0)


def synthetic_population(n, seed):
    T, _, owner, day, rng = draw_customers(n, seed)
    x, t_x, T = summary_of(T, owner, day, n)
    return x, t_x, T, order_values(rng, x)


def write_transaction_log(path, n, seed):
    """One line per purchase: the first on day as_of - T, the repeats after it; sorted by date."""
    T, _, owner, day, rng = draw_customers(n, seed)
    as_of = np.datetime64(AS_OF, "D").astype(np.int64)
    customer = np.concatenate([np.arange(n), owner])
    days = np.concatenate([as_of - T, as_of - T[owner] + day]).astype(np.int64)
    spend_rate = rng.gamma(GAMMA_GAMMA["q"], 1 / GAMMA_GAMMA["v"], n)
    amounts = np.round(rng.gamma(GAMMA_GAMMA["p"], 1 / spend_rate[customer]), 2)
    order = np.argsort(days, kind="stable")
    dates = np.datetime_as_string(days[order].astype("datetime64[D]"))
    ids = np.char.add("C", np.char.zfill(customer[order].astype(str), 7))
    lines = map(",".join, zip(ids.tolist(), dates.tolist(), amounts[order].astype(str).tolist()))
    path.write_text("customer_id,occurred_at,amount\n" + "\n".join(lines) + "\n")
    return customer.size


def lifetimes_job(path, as_of, out):
    """The same job as `pulse clv fit`, done the usual way with pandas and lifetimes."""
    transactions = pd.read_csv(path, dtype={"customer_id": str})
    summary = summary_data_from_transaction_data(
        transactions, "customer_id", "occurred_at", "amount", observation_period_end=as_of, freq="D"
    )
    x, t_x, T, m = summary.frequency, summary.recency, summary["T"], summary.monetary_value
    model = ModifiedBetaGeoFitter().fit(x, t_x, T)
    repeat = summary[(x > 0) & (m > 0)]
    values = GammaGammaFitter().fit(repeat.frequency, repeat.monetary_value)
    summary["p_alive"] = model.conditional_probability_alive(x, t_x, T)
    for horizon in (30, 90, 365):
        summary[f"expected_purchases_{horizon}"] = model.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, T)
    summary["expected_order_value"] = values.conditional_expected_average_profit(x, m)
    summary["clv"] = values.customer_lifetime_value(model, x, t_x, T, m, time=12, discount_rate=0.01, freq="D")
    summary.to_csv(out)


def report(label, ours, theirs=None, target=None):
    line = f"  {label:<34} ours {ours:8.3f} s"
    if theirs is not None:
        line += f"   lifetimes {theirs:8.2f} s   ratio {theirs / ours:7.1f}x"
    print(line + (f"   [{target}]" if target else ""))


def bench_fits(x, t_x, T, m, pareto_sample):
    print(f"Fitting {x.size:,} customers ({(x > 0).sum():,} with a repeat purchase), median of {REPEATS} runs for ours:")
    for name, ours, theirs in [("bgnbd", bgnbd, BetaGeoFitter), ("mbgnbd", mbgnbd, ModifiedBetaGeoFitter)]:
        ours_time, fit = timed(lambda: ours.fit(x, t_x, T), REPEATS)
        theirs_time, reference = timed(lambda: theirs().fit(x, t_x, T))
        drift = np.max(np.abs(fit.values / reference.params_[list(fit.param_names)].to_numpy() - 1))
        report(f"{name} fit (params agree to {drift:.0e})", ours_time, theirs_time, "target < 1 s and >= 10x")
    repeat = (x > 0) & (m > 0)
    ours_time, _ = timed(lambda: gamma_gamma.fit(x, m), REPEATS)
    theirs_time, _ = timed(lambda: GammaGammaFitter().fit(x[repeat], m[repeat]))
    report("gamma-gamma fit", ours_time, theirs_time)
    ours_time, _ = timed(lambda: paretonbd.fit(x, t_x, T))
    sample = np.random.default_rng(1).choice(x.size, pareto_sample, replace=False)
    sample_time, _ = timed(lambda: ParetoNBDFitter().fit(x[sample], t_x[sample], T[sample]))
    report(f"pareto fit (lifetimes: {pareto_sample:,} x {x.size / pareto_sample:.0f})", ours_time, sample_time * x.size / pareto_sample)


def bench_scoring(x, t_x, T, m):
    fit, values = mbgnbd.fit(x, t_x, T), gamma_gamma.fit(x, m)
    params, value_params = fit.usable_params(), values.usable_params()
    ours_time, _ = timed(lambda: score_customers(MODELS["mbgnbd"], params, value_params, x=x, t_x=t_x, T=T, monetary=m), REPEATS)
    model = ModifiedBetaGeoFitter()
    model.params_ = pd.Series(params, index=["r", "alpha", "a", "b"])
    model.predict = model.conditional_expected_number_of_purchases_up_to_time
    value_model = GammaGammaFitter()
    value_model.params_ = pd.Series(value_params, index=["p", "q", "v"])
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T, "m": m})

    def lifetimes_scores():
        model.conditional_probability_alive(x, t_x, T)
        for horizon in (30, 90, 365):
            model.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, T)
        value_model.customer_lifetime_value(model, frame.x, frame.t_x, frame["T"], frame.m, freq="D")

    theirs_time, _ = timed(lifetimes_scores)
    print(f"Scoring {x.size:,} customers (p_alive, expected purchases 30/90/365, CLV), MBG/NBD:")
    report("scoring", ours_time, theirs_time, "target < 0.5 s")


def bench_end_to_end(customers, seed):
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "transactions.csv"
        lines = write_transaction_log(log, customers, seed)
        print(f"End to end on {customers:,} customers ({lines:,} transactions, {log.stat().st_size / 1e6:.0f} MB), fresh processes:")
        pulse = Path(sys.executable).with_name("pulse")
        ours_command = [pulse, "clv", "fit", "--transactions", log, "--as-of", AS_OF, "--out", Path(folder) / "ours.csv"]
        theirs_command = [sys.executable, __file__, "--lifetimes-job", log, Path(folder) / "theirs.csv"]
        ours_time, _ = timed(lambda: subprocess.run(ours_command, check=True, capture_output=True), REPEATS)
        theirs_time, _ = timed(lambda: subprocess.run(theirs_command, check=True, capture_output=True))
        report("pulse clv fit vs lifetimes job", ours_time, theirs_time, "target >= 10x")
        compare_outputs(Path(folder) / "ours.csv", Path(folder) / "theirs.csv")


def compare_outputs(ours_path, theirs_path):
    ours = pd.read_csv(ours_path, dtype={"customer_id": str}).set_index("customer_id").sort_index()
    theirs = pd.read_csv(theirs_path, dtype={"customer_id": str}).set_index("customer_id").sort_index()
    same = (ours.index == theirs.index).all() and (ours.frequency == theirs.frequency).all()
    drift = np.max(np.abs(ours.clv / theirs.clv - 1))
    print(f"  outputs: same customers and frequencies: {same}; CLV of separately fitted models agrees to {drift:.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--job-customers", type=int, default=300_000)
    parser.add_argument("--pareto-sample", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only-end-to-end", action="store_true", help="skip the fits and scoring of --customers")
    parser.add_argument("--lifetimes-job", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lifetimes_job:
        lifetimes_job(args.lifetimes_job[0], AS_OF, args.lifetimes_job[1])
        return
    if not args.only_end_to_end:
        x, t_x, T, m = synthetic_population(args.customers, args.seed)
        bench_fits(x, t_x, T, m, args.pareto_sample)
        bench_scoring(x, t_x, T, m)
    bench_end_to_end(args.job_customers, args.seed)


if __name__ == "__main__":
    main()
