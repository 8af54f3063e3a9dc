# Golden values for rlmeta's sensitivity and publication-bias tools, from metafor.
#
# Run from the repository root (needs Debian's r-cran-metafor and r-cran-jsonlite):
#   Rscript tests/reference/make_golden_sens.R
# Writes tests/reference/golden_sens.json.  The test suite only reads the JSON.
#
# Every input is written into the JSON next to the expected values.  Functions:
# leave1out, cumul, influence (all columns + is.infl), baujat, regtest (rma and lm,
# several predictors), ranktest, trimfill (L0, R0, Q0, both sides), fsn (Rosenthal with
# Stouffer's and Fisher's test, Orwin, Rosenberg), exact permutest and gosh (full subset table).  Leave-one-
# cluster-out has no metafor function; it is computed with rma(subset = ...).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_dir <- "tests/reference"
meta <- list(
  metafor_version = as.character(packageVersion("metafor")),
  r_version = R.version.string,
  generated = format(Sys.time(), "%Y-%m-%d")
)
pdf(NULL)  # baujat() draws; keep plots off disk
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }

# ------------------------------------------------------------------ data
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
egg <- escalc("OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.egger2001)
gen <- function(k, tau2, seed, round_y = NULL, ties_x = FALSE, round_v = NULL) {
  set.seed(seed)
  vi <- runif(k, 0.01, 0.25)
  if (!is.null(round_v)) vi <- round(vi, round_v)
  x1 <- round(rnorm(k), 3)
  yi <- rnorm(k, 0.2 + 0.3 * x1, sqrt(vi + tau2))
  if (!is.null(round_y)) yi <- round(yi, round_y)
  g <- if (ties_x) rep(c("a", "b"), length.out = k) else sample(c("a", "b", "c"), k, TRUE)
  data.frame(yi = yi, vi = vi, x1 = x1, g = g, ni = sample(20:400, k, TRUE),
             year = sample(2015:2024, k, TRUE), w = round(runif(k, 1, 10), 2), cl = rep(1:ceiling(k / 2), each = 2)[1:k])
}
datasets <- list(
  bcg = data.frame(yi = num(bcg$yi), vi = num(bcg$vi), x1 = dat.bcg$ablat, year = dat.bcg$year,
                   g = dat.bcg$alloc, ni = with(dat.bcg, tpos + tneg + cpos + cneg),
                   w = with(dat.bcg, tpos + tneg + cpos + cneg) / 1000, cl = rep(1:7, each = 2)[1:13]),
  egger = data.frame(yi = num(egg$yi), vi = num(egg$vi), year = dat.egger2001$year,
                     ni = dat.egger2001$n1i + dat.egger2001$n2i, x1 = dat.egger2001$year - 1990,
                     g = rep(c("a", "b"), length.out = 16), w = 1, cl = rep(1:8, each = 2)),
  gen10 = gen(10, 0.1, 11),
  gen25 = gen(25, 0.05, 12),
  gen_ties = gen(20, 0.1, 13, round_y = 1, round_v = 2),
  gen60 = gen(60, 0.08, 14),
  gen8 = gen(8, 0.05, 15),
  gen7 = gen(7, 0.05, 16),
  gen7f = gen(7, 0.05, 17, ties_x = TRUE),
  gen6 = gen(6, 0.1, 18)
)
datasets$egger_noisis <- datasets$egger[-16, ]
fit <- function(d, method = "REML", test = "z", mods = NULL, weights = NULL) {
  args <- list(yi = d$yi, vi = d$vi, method = method, test = test)
  if (!is.null(mods)) args$mods <- model.matrix(mods, data = d)[, -1, drop = FALSE]
  if (!is.null(weights)) args$weights <- d[[weights]]
  do.call(rma, args)
}

# ------------------------------------------------------------------ leave1out / cluster / cumul
loo_cases <- list(
  list(dataset = "bcg", method = "REML", test = "z"),
  list(dataset = "bcg", method = "DL", test = "knha"),
  list(dataset = "bcg", method = "EE", test = "z"),
  list(dataset = "egger", method = "PM", test = "t"),
  list(dataset = "gen10", method = "ML", test = "adhoc"),
  list(dataset = "gen25", method = "SJ", test = "z")
)
lo <- list()
for (cs in loo_cases) {
  d <- datasets[[cs$dataset]]
  res <- fit(d, cs$method, cs$test)
  l <- leave1out(res)
  o <- cs
  o$estimate <- num(l$estimate); o$se <- num(l$se); o$stat <- num(l[[3]]); o$pval <- num(l$pval)
  o$ci_low <- num(l$ci.lb); o$ci_high <- num(l$ci.ub); o$q <- num(l$Q); o$q_pval <- num(l$Qp)
  o$tau2 <- if (is.null(l$tau2)) rep(0, length(l$estimate)) else num(l$tau2)
  o$i2 <- num(l$I2); o$h2 <- num(l$H2)
  # leave one cluster out (column cl), clusters in order of appearance
  cls <- unique(d$cl)
  cc <- list(estimate = c(), se = c(), pval = c(), tau2 = c(), i2 = c(), k = c())
  for (cval in cls) {
    r <- suppressWarnings(rma(d$yi, d$vi, method = cs$method, test = cs$test, subset = d$cl != cval))
    cc$estimate <- c(cc$estimate, r$beta[1]); cc$se <- c(cc$se, r$se); cc$pval <- c(cc$pval, r$pval)
    cc$tau2 <- c(cc$tau2, r$tau2); cc$i2 <- c(cc$i2, r$I2); cc$k <- c(cc$k, r$k)
  }
  o$cluster <- lapply(cc, num)
  lo[[length(lo) + 1]] <- o
}
cu <- list()
cum_cases <- list(
  list(dataset = "bcg", method = "REML", test = "z", order = "year"),
  list(dataset = "bcg", method = "REML", test = "knha", order = "year"),
  list(dataset = "egger", method = "DL", test = "z", order = "year"),
  list(dataset = "gen25", method = "REML", test = "t", order = "year")
)
for (cs in cum_cases) {
  d <- datasets[[cs$dataset]]
  res <- fit(d, cs$method, cs$test)
  l <- suppressWarnings(cumul(res, order = d[[cs$order]]))
  o <- cs
  o$slab <- as.character(l$slab)
  o$estimate <- num(l$estimate); o$se <- num(l$se); o$stat <- num(l[[3]]); o$pval <- num(l$pvals)
  o$ci_low <- num(l$ci.lb); o$ci_high <- num(l$ci.ub); o$q <- num(l$Q); o$q_pval <- num(l$Qp)
  o$tau2 <- num(l$tau2); o$i2 <- num(l$I2); o$h2 <- num(l$H2)
  cu[[length(cu) + 1]] <- o
}

# ------------------------------------------------------------------ influence / baujat
inf_cases <- list(
  list(dataset = "bcg", method = "REML", test = "z", mods = NULL, py = NULL),
  list(dataset = "bcg", method = "REML", test = "z", mods = ~ x1 + year, py = "~ x1 + year"),
  list(dataset = "bcg", method = "DL", test = "knha", mods = ~ x1, py = "~ x1"),
  list(dataset = "bcg", method = "EE", test = "z", mods = NULL, py = NULL),
  list(dataset = "egger", method = "PM", test = "z", mods = NULL, py = NULL),
  list(dataset = "gen25", method = "ML", test = "knha", mods = ~ x1 + factor(g), py = "~ x1 + C(g)"),
  list(dataset = "gen25", method = "REML", test = "z", mods = ~ x1, py = "~ x1", weights = "w"),
  list(dataset = "gen10", method = "HE", test = "t", mods = NULL, py = NULL)
)
inf <- list()
for (cs in inf_cases) {
  d <- datasets[[cs$dataset]]
  res <- fit(d, cs$method, cs$test, cs$mods, cs$weights)
  ii <- influence(res)
  o <- cs[c("dataset", "method", "test")]
  o$mods <- cs$py
  o$weights <- cs$weights
  o$rstudent <- num(ii$inf$rstudent); o$dffits <- num(ii$inf$dffits); o$cooks_d <- num(ii$inf$cook.d)
  o$cov_r <- num(ii$inf$cov.r); o$tau2_del <- num(ii$inf$tau2.del); o$qe_del <- num(ii$inf$QE.del)
  o$hat <- num(ii$inf$hat); o$weight <- num(ii$inf$weight); o$is_infl <- as.logical(ii$is.infl)
  o$dfbetas <- lapply(unclass(ii$dfbs)[seq_len(res$p)], num)
  b <- baujat(res, progbar = FALSE)
  o$baujat_x <- num(b$x); o$baujat_y <- num(b$y)
  inf[[length(inf) + 1]] <- o
}

# ------------------------------------------------------------------ regtest / ranktest
rt <- list()
for (dn in c("bcg", "egger", "egger_noisis", "gen25")) {
  d <- datasets[[dn]]
  for (model in c("rma", "lm")) for (pred in c("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")) {
    for (tt in if (model == "rma") c("z", "knha") else "z") {
      res <- rma(d$yi, d$vi, ni = d$ni, test = tt)
      r <- regtest(res, model = model, predictor = pred)
      o <- list(dataset = dn, model = model, predictor = pred, method = "REML", test = tt, mods = NULL,
                zval = num(r$zval), pval = num(r$pval), dfs = num(r$dfs),
                est = if (is.null(r$est)) NA else num(r$est), ci_lb = if (is.null(r$ci.lb)) NA else num(r$ci.lb),
                ci_ub = if (is.null(r$ci.ub)) NA else num(r$ci.ub),
                beta = num(coef(r$fit)))
      rt[[length(rt) + 1]] <- o
    }
  }
}
# meta-regression model + other estimator
res <- rma(yi, vi, mods = ~ x1, data = datasets$bcg, method = "DL", ni = datasets$bcg$ni)
r <- regtest(res)
rt[[length(rt) + 1]] <- list(dataset = "bcg", model = "rma", predictor = "sei", method = "DL", test = "z", mods = "~ x1",
                             zval = num(r$zval), pval = num(r$pval), dfs = num(r$dfs), est = NA, ci_lb = NA, ci_ub = NA,
                             beta = num(coef(r$fit)))
res <- rma(yi, vi, data = datasets$bcg, method = "EE")
r <- regtest(res, model = "rma", predictor = "sei")
rt[[length(rt) + 1]] <- list(dataset = "bcg", model = "rma", predictor = "sei", method = "EE", test = "z", mods = NULL,
                             zval = num(r$zval), pval = num(r$pval), dfs = num(r$dfs), est = num(r$est),
                             ci_lb = num(r$ci.lb), ci_ub = num(r$ci.ub), beta = num(coef(r$fit)))
rk <- list()
for (dn in c("bcg", "egger", "egger_noisis", "gen25", "gen_ties", "gen60", "gen8")) {
  d <- datasets[[dn]]
  r <- suppressWarnings(ranktest(rma(d$yi, d$vi)))
  rk[[dn]] <- list(tau = num(r$tau), pval = num(r$pval))
}

# ------------------------------------------------------------------ trimfill
tf <- list()
for (dn in c("bcg", "egger", "gen25", "gen10")) {
  d <- datasets[[dn]]
  for (m in c("REML", "EE", "DL")) for (est in c("L0", "R0", "Q0")) for (side in c("auto", "left", "right")) {
    res <- rma(d$yi, d$vi, method = m)
    t <- tryCatch(suppressWarnings(
      if (side == "auto") trimfill(res, estimator = est) else trimfill(res, estimator = est, side = side)),
      error = function(e) conditionMessage(e))
    if (is.character(t)) {  # Q0 can be undefined (sqrt of a negative number): R stops
      tf[[length(tf) + 1]] <- list(dataset = dn, method = m, estimator = est, side_arg = side, error = t)
      next
    }
    tf[[length(tf) + 1]] <- list(
      dataset = dn, method = m, estimator = est, side_arg = side, side = t$side, k0 = t$k0, se_k0 = num(t$se.k0),
      p_k0 = num(t$p.k0), beta = num(t$beta), se = num(t$se), tau2 = num(t$tau2), k = t$k, yi = num(t$yi),
      vi = num(t$vi), fill = as.logical(t$fill), ci_lb = num(t$ci.lb), ci_ub = num(t$ci.ub), pval = num(t$pval),
      test = t$test)
  }
}

# ------------------------------------------------------------------ fsn
fs <- list()
for (dn in c("bcg", "egger", "gen25")) {
  d <- datasets[[dn]]
  add <- function(label, r, type, target = NA, weighted = FALSE) {
    fs[[length(fs) + 1]] <<- list(dataset = dn, type = type, target = target, weighted = weighted,
                                 fsnum = num(r$fsnum), pval = num(r$pval), meanes = num(r$meanes),
                                 target_out = num(r$target))
  }
  add("ros", fsn(d$yi, d$vi), "Rosenthal")
  add("ros05", fsn(d$yi, d$vi, alpha = 0.01), "Rosenthal")
  fs[[length(fs)]]$alpha <- 0.01
  add("orw", fsn(d$yi, d$vi, type = "Orwin"), "Orwin")
  add("orw_t", fsn(d$yi, d$vi, type = "Orwin", target = log(0.95)), "Orwin", target = log(0.95))
  add("orw_w", fsn(d$yi, d$vi, type = "Orwin", target = log(0.95), weighted = TRUE), "Orwin", target = log(0.95),
      weighted = TRUE)
  add("rsb", fsn(d$yi, d$vi, type = "Rosenberg"), "Rosenberg")
  add("ros_fisher", fsn(d$yi, d$vi, test = "Fisher"), "Rosenthal")
  fs[[length(fs)]]$test <- "Fisher"
  add("ros_fisher01", fsn(d$yi, d$vi, test = "Fisher", alpha = 0.01), "Rosenthal")
  fs[[length(fs)]]$test <- "Fisher"
  fs[[length(fs)]]$alpha <- 0.01
}

# ------------------------------------------------------------------ permutest (exact)
pt <- list()
perm_cases <- list(
  list(dataset = "gen8", method = "REML", test = "z", mods = NULL, py = NULL),
  list(dataset = "gen8", method = "DL", test = "knha", mods = NULL, py = NULL),
  list(dataset = "gen8", method = "EE", test = "z", mods = NULL, py = NULL),
  list(dataset = "gen7", method = "REML", test = "z", mods = ~ x1, py = "~ x1"),
  list(dataset = "gen7", method = "DL", test = "knha", mods = ~ x1, py = "~ x1"),
  list(dataset = "gen7f", method = "REML", test = "z", mods = ~ factor(g), py = "~ C(g)"),
  list(dataset = "gen7", method = "ML", test = "z", mods = ~ x1 + year, py = "~ x1 + year")
)
for (cs in perm_cases) {
  d <- datasets[[cs$dataset]]
  res <- fit(d, cs$method, cs$test, cs$mods)
  p <- permutest(res, exact = TRUE, progbar = FALSE)
  pt[[length(pt) + 1]] <- list(dataset = cs$dataset, method = cs$method, test = cs$test, mods = cs$py,
                               pval = num(p$pval), QMp = num(p$QMp), QM = num(p$QM), exact_iter = num(p$exact.iter),
                               QM_perm_sorted = num(sort(p$QM.perm)))
}

# ------------------------------------------------------------------ gosh
go <- list()
gosh_cases <- list(
  list(dataset = "bcg", method = "REML", mods = NULL, py = NULL, rows = 1:10),
  list(dataset = "bcg", method = "DL", mods = NULL, py = NULL, rows = 1:10),
  list(dataset = "gen10", method = "EE", mods = NULL, py = NULL, rows = 1:10),
  list(dataset = "gen10", method = "PM", mods = NULL, py = NULL, rows = 1:8),
  list(dataset = "gen10", method = "REML", mods = ~ x1, py = "~ x1", rows = 1:8)
)
for (cs in gosh_cases) {
  d <- datasets[[cs$dataset]][cs$rows, ]
  res <- fit(d, cs$method, "z", cs$mods)
  g <- gosh(res, progbar = FALSE)
  code <- as.numeric(g$incl %*% (2^(seq_len(ncol(g$incl)) - 1)))
  go[[length(go) + 1]] <- list(dataset = cs$dataset, rows = cs$rows, method = cs$method, mods = cs$py,
                               code = code, k = num(g$res$k), QE = num(g$res$QE), I2 = num(g$res$I2),
                               H2 = num(g$res$H2), tau2 = num(g$res$tau2),
                               beta = lapply(g$res[, -(1:5), drop = FALSE], num))
}

# ------------------------------------------------------------------ selmodel (step function)
sm <- list()
sel_cases <- list(
  list(dataset = "bcg", method = "REML", mods = NULL, py = NULL, steps = 0.025, alternative = "less"),
  list(dataset = "bcg", method = "ML", mods = NULL, py = NULL, steps = c(0.05, 0.5), alternative = "less"),
  list(dataset = "bcg", method = "REML", mods = ~ x1, py = "~ x1", steps = 0.05, alternative = "less"),
  list(dataset = "gen60", method = "REML", mods = NULL, py = NULL, steps = c(0.025, 0.1), alternative = "greater"),
  list(dataset = "gen60", method = "REML", mods = NULL, py = NULL, steps = 0.05, alternative = "two.sided"),
  list(dataset = "egger", method = "EE", mods = NULL, py = NULL, steps = 0.05, alternative = "less")
)
for (cs in sel_cases) {
  d <- datasets[[cs$dataset]]
  res <- fit(d, cs$method, "z", cs$mods)
  s <- selmodel(res, type = "stepfun", steps = cs$steps, alternative = cs$alternative)
  sm[[length(sm) + 1]] <- list(dataset = cs$dataset, method = cs$method, mods = cs$py, steps = cs$steps,
                               alternative = cs$alternative, beta = num(s$beta), se = num(s$se), zval = num(s$zval),
                               pval = num(s$pval), ci_lb = num(s$ci.lb), ci_ub = num(s$ci.ub), tau2 = num(s$tau2),
                               se_tau2 = num(s$se.tau2), delta = num(s$delta), se_delta = num(s$se.delta),
                               ll = num(s$ll), ll0 = num(s$ll0), LRT = num(s$LRT), LRTdf = num(s$LRTdf),
                               LRTp = num(s$LRTp), QM = num(s$QM), QMp = num(s$QMp),
                               ptable = as.numeric(s$ptable$k))
}

write_json(list(meta = meta, datasets = datasets, leave1out = lo, cumul = cu, influence = inf, regtest = rt,
                ranktest = rk, trimfill = tf, fsn = fs, permutest = pt, gosh = go, selmodel = sm),
           file.path(out_dir, "golden_sens.json"), digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE)
cat("wrote golden_sens.json\n")
