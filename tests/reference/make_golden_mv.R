# Golden values for rlmeta's multilevel models (rma.mv), vcalc and cluster-robust inference.
#
# Run from the repository root (Debian packages r-cran-metafor, r-cran-clubsandwich,
# r-cran-robumeta, r-cran-jsonlite):
#   Rscript tests/reference/make_golden_mv.R
# Writes tests/reference/golden_rma_mv.json (about 5 minutes: the k ~ 800 rma.mv fits and the
# profile-likelihood CIs dominate).  The test suite only reads the JSON.
#
# Every input dataset is written into the JSON next to the expected values.  metafor is
# run with its default settings (what a metafor user sees); profile-likelihood CIs are
# stored twice: with confint's default uniroot tolerance and with tol = 1e-10.
# I^2 for rma.mv is not built into metafor 3.8; it is computed here as in the metafor
# documentation (W = V^-1) and, as a second variant, with the model's W = M^-1.

suppressPackageStartupMessages({
  library(metafor)
  library(clubSandwich)
  library(robumeta)
  library(jsonlite)
})

out_file <- "tests/reference/golden_rma_mv.json"
meta <- list(
  metafor_version = as.character(packageVersion("metafor")),
  clubSandwich_version = as.character(packageVersion("clubSandwich")),
  robumeta_version = as.character(packageVersion("robumeta")),
  r_version = R.version.string,
  generated = format(Sys.time(), "%Y-%m-%d")
)
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }
pick <- function(x) x[sample.int(length(x), 1)]

# ------------------------------------------------------------------ data
gen <- function(seed, S, ncomp = 1:3, nes = 1:4, s2 = c(0.05, 0.02, 0), mu = 0.3, b1 = 0.1) {
  set.seed(seed)
  rows <- list()
  for (s in seq_len(S)) {
    us <- rnorm(1, 0, sqrt(s2[1]))
    xs <- round(rnorm(1), 3)
    for (c in seq_len(pick(ncomp))) {
      uc <- rnorm(1, 0, sqrt(s2[2]))
      for (e in seq_len(pick(nes))) {
        ue <- rnorm(1, 0, sqrt(s2[3]))
        x1 <- round(rnorm(1), 3)
        vi <- round(runif(1, 0.005, 0.1), 5)
        rows[[length(rows) + 1]] <- data.frame(
          study = s, comp = c, es = e, x1 = x1, x_study = xs,
          g = pick(c("a", "b", "c")),
          vi = vi, yi = mu + b1 * x1 + us + uc + ue + rnorm(1, 0, sqrt(vi)))
      }
    }
  }
  d <- do.call(rbind, rows)
  d$yi <- round(d$yi, 6)
  d$comp_id <- paste(d$study, d$comp, sep = "_")
  d$es_id <- seq_len(nrow(d))
  d
}
konst <- dat.konstantopoulos2011[, c("district", "school", "study", "year", "yi", "vi")]
konst$yi <- as.numeric(konst$yi); konst$vi <- as.numeric(konst$vi)
datasets <- list(
  konst = konst,
  g3_small = gen(11, 12),
  g3_med = gen(12, 40, ncomp = 1:4, nes = 1:5),
  g3_zero = gen(13, 25, s2 = c(0.08, 0, 0)),          # comparison-level sigma2 = 0
  g4 = gen(14, 20, ncomp = 1:3, nes = 1:4, s2 = c(0.04, 0.02, 0.03)),
  g2_single = gen(15, 30, ncomp = 1, nes = c(1, 1, 1, 2, 3)),  # mostly one effect per study
  g_one = gen(16, 1, ncomp = 6, nes = 2:3),            # a single study
  g_large = gen(17, 200, ncomp = 1:3, nes = 1:3)        # k around 1,000 in 200 studies
)

# ------------------------------------------------------------------ helpers
i2_ml <- function(res, W) {
  X <- model.matrix(res)
  P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  vt <- (res$k - res$p) / sum(diag(P))
  s <- sum(res$sigma2)
  list(total = 100 * s / (s + vt), levels = num(100 * res$sigma2 / (s + vt)))
}
fitinfo <- function(res, newmods = NULL, ci = "none") {
  o <- list(
    beta = num(res$beta), se = num(res$se), zval = num(res$zval), pval = num(res$pval),
    ci_lb = num(res$ci.lb), ci_ub = num(res$ci.ub), sigma2 = num(res$sigma2),
    QE = num(res$QE), QEp = num(res$QEp), QM = num(res$QM), QMp = num(res$QMp), QMdf = num(res$QMdf),
    ddf = num(res$ddf), k = res$k, p = res$p, parms = res$parms,
    fit_ML = num(res$fit.stats$ML), fit_REML = num(res$fit.stats$REML),
    s_nlevels = num(res$s.nlevels)
  )
  o$i2_sampling <- i2_ml(res, solve(res$V))
  o$i2_marginal <- i2_ml(res, chol2inv(chol(res$M)))
  pr <- if (is.null(newmods)) predict(res) else predict(res, newmods = newmods)
  o$pred <- num(pr$pred); o$pred_se <- num(pr$se)
  o$pred_ci_lb <- num(pr$ci.lb); o$pred_ci_ub <- num(pr$ci.ub)
  o$pi_lb <- num(pr$pi.lb); o$pi_ub <- num(pr$pi.ub)
  re <- ranef(res)
  o$ranef <- lapply(re, function(x) list(label = rownames(x), pred = num(x$intrcpt), se = num(x$se),
                                         pi_lb = num(x$pi.lb), pi_ub = num(x$pi.ub)))
  names(o$ranef) <- NULL
  if (ci != "none") {
    grab <- function(cc) {
      if (!is.null(cc$random)) cc <- list(cc)
      cc <- Filter(function(x) is.list(x) && !is.null(x$random), cc)
      lapply(cc, function(x) num(x$random[1, ]))
    }
    o$ci_default <- grab(confint(res))
    if (ci == "both") o$ci_tight <- grab(confint(res, control = list(tol = 1e-10)))
  }
  o
}
robinfo <- function(rb) {
  list(beta = num(rb$beta), se = num(rb$se), tval = num(rb$zval), df = num(rb$ddf), pval = num(rb$pval),
       ci_lb = num(rb$ci.lb), ci_ub = num(rb$ci.ub), QM = num(rb$QM), QMdf = num(rb$QMdf), QMp = num(rb$QMp),
       n = rb$n)
}

cases <- list()
robust_cases <- list()
add_case <- function(key, dname, random, mods = NULL, method = "REML", test = "z", dfs = "residual",
                     V = NULL, newmods = NULL, ci = "none", robust_cluster = NULL, wald_all = FALSE) {
  d <- datasets[[dname]]
  Vm <- d$vi
  if (!is.null(V)) {
    Vm <- if (is.null(V$obs)) vcalc(vi, cluster = d[[V$cluster]], rho = V$rho, data = d)
          else vcalc(vi, cluster = d[[V$cluster]], obs = d[[V$obs]], rho = V$rho, data = d)
  }
  rf <- as.formula(paste("~ 1 |", random))
  args <- list(yi = d$yi, V = Vm, random = rf, data = d, method = method, test = test, dfs = dfs)
  if (!is.null(mods)) args$mods <- as.formula(mods)
  res <- tryCatch(suppressWarnings(do.call(rma.mv, args)), error = function(e) e)
  spec <- list(dataset = dname, random = random, mods = mods, method = method, test = test, dfs = dfs,
               V = V, newmods = newmods)
  if (inherits(res, "error")) {
    cases[[key]] <<- c(spec, list(error = conditionMessage(res)))
    return(invisible(NULL))
  }
  nm <- if (is.null(newmods)) NULL else do.call(rbind, newmods)
  cases[[key]] <<- c(spec, fitinfo(res, nm, ci))
  if (!is.null(robust_cluster)) {
    cl <- d[[robust_cluster]]
    r1 <- robust(res, cluster = cl, adjust = TRUE)
    r2 <- robust(res, cluster = cl, clubSandwich = TRUE)
    rc <- list(case = key, cluster = robust_cluster, CR1 = robinfo(r1), CR2 = robinfo(r2))
    if (wald_all) {
      w <- Wald_test(res, constraints = constrain_zero(seq_len(res$p)), vcov = "CR2", cluster = cl, test = "HTZ")
      rc$wald_all <- list(Fstat = num(w$Fstat), df_num = num(w$df_num), df_denom = num(w$df_denom), p_val = num(w$p_val))
    }
    robust_cases[[key]] <<- rc
  }
}

# ---- dat.konstantopoulos2011 (published values in meta_anchors.md)
add_case("konst_reml_z", "konst", "district/school", ci = "both", robust_cluster = "district")
add_case("konst_reml_t", "konst", "district/school", test = "t")
add_case("konst_reml_contain", "konst", "district/school", dfs = "contain")
add_case("konst_ml_z", "konst", "district/school", method = "ML", ci = "default")
add_case("konst_year_reml", "konst", "district/school", mods = "~ year", newmods = list(1980, 1990),
         robust_cluster = "district")
add_case("konst_year_contain", "konst", "district/school", mods = "~ year", dfs = "contain", newmods = list(1985))
add_case("konst_2level", "konst", "district", ci = "default")

# ---- generated hierarchies
for (dn in c("g3_small", "g3_med")) {
  for (m in c("REML", "ML")) {
    for (tt in c("z", "t")) {
      add_case(paste(dn, m, tt, sep = "_"), dn, "study/comp", method = m, test = tt,
               ci = if (tt == "z") "default" else "none",
               robust_cluster = if (tt == "z") "study" else NULL)
      add_case(paste(dn, m, tt, "mods", sep = "_"), dn, "study/comp", mods = "~ x1 + g", method = m, test = tt,
               newmods = list(c(0, 0, 0), c(1.5, 1, 0)), robust_cluster = if (tt == "z") "study" else NULL,
               wald_all = tt == "z")
    }
  }
  add_case(paste(dn, "contain_mods", sep = "_"), dn, "study/comp", mods = "~ x1 + x_study", dfs = "contain",
           newmods = list(c(0.5, -1)))
  add_case(paste(dn, "2level", sep = "_"), dn, "study", mods = "~ x1", ci = "default", robust_cluster = "study")
}
add_case("g3_zero_reml", "g3_zero", "study/comp", ci = "both", robust_cluster = "study")
add_case("g3_zero_ml_mods", "g3_zero", "study/comp", mods = "~ x1", method = "ML", robust_cluster = "study")
add_case("g4_reml", "g4", "study/comp/es", ci = "default", robust_cluster = "study")
add_case("g4_reml_mods_t", "g4", "study/comp/es", mods = "~ x1 + x_study", test = "t", newmods = list(c(1, 1)))
add_case("g4_ml_contain", "g4", "study/comp/es", mods = "~ x_study", method = "ML", dfs = "contain")
add_case("g2_single_reml", "g2_single", "study", ci = "default", robust_cluster = "study")
add_case("g2_single_3level", "g2_single", "study/es", mods = "~ x1", robust_cluster = "study")
add_case("g_one_reml", "g_one", "study/comp", ci = "default")
add_case("g_one_mods", "g_one", "study/comp", mods = "~ x1")
add_case("g_large_reml", "g_large", "study/comp", robust_cluster = "study")
add_case("g_large_ml_mods", "g_large", "study/comp", mods = "~ x1 + g", method = "ML", robust_cluster = "study",
         wald_all = TRUE)

# ---- known sampling covariance from vcalc
add_case("v_comp_reml", "g3_med", "study/comp", V = list(cluster = "comp_id", obs = "es", rho = 0.6),
         ci = "default", robust_cluster = "study")
add_case("v_comp_mods", "g3_med", "study/comp", mods = "~ x1", V = list(cluster = "comp_id", obs = "es", rho = 0.6),
         robust_cluster = "study")
add_case("v_study_es", "g4", "study/es_id", V = list(cluster = "study", obs = "es_id", rho = 0.4),
         ci = "default", robust_cluster = "study")
add_case("v_study_comp_ml", "g4", "study/comp", mods = "~ x1", method = "ML",
         V = list(cluster = "study", obs = "es_id", rho = 0.3), robust_cluster = "study")
add_case("v_only_t", "g3_small", "study", V = list(cluster = "comp_id", obs = "es", rho = 0.5), test = "t")

vcalc_cases <- list()
for (spec in list(list(d = "g3_small", cluster = "comp_id", obs = "es", rho = 0.6),
                  list(d = "g3_small", cluster = "study", obs = "es_id", rho = 0.3),
                  list(d = "g3_small", cluster = "study", obs = "comp", rho = 0.5))) {
  d <- datasets[[spec$d]]
  V <- vcalc(vi, cluster = d[[spec$cluster]], obs = d[[spec$obs]], rho = spec$rho, data = d)
  vcalc_cases[[length(vcalc_cases) + 1]] <- c(spec, list(V = unname(as.matrix(V))))
}

# ------------------------------------------------------------------ rma.uni + robust (MetaResult)
uni_cases <- list()
for (dn in c("g3_small", "g3_med")) {
  d <- datasets[[dn]]
  for (wt in c(FALSE, TRUE)) {
    res <- if (wt) rma(yi, vi, mods = ~ x1 + g, weights = 1 / (vi + 0.01), data = d)
           else rma(yi, vi, mods = ~ x1 + g, data = d)
    r1 <- robust(res, cluster = d$study, adjust = TRUE)
    r2 <- robust(res, cluster = d$study, clubSandwich = TRUE)
    w <- Wald_test(res, constraints = constrain_zero(1:4), vcov = "CR2", cluster = d$study, test = "HTZ")
    uni_cases[[paste(dn, if (wt) "weights" else "iv", sep = "_")]] <- list(
      dataset = dn, mods = "~ x1 + g", weights = wt, cluster = "study",
      tau2 = num(res$tau2), CR1 = robinfo(r1), CR2 = robinfo(r2),
      wald_all = list(Fstat = num(w$Fstat), df_num = num(w$df_num), df_denom = num(w$df_denom), p_val = num(w$p_val)))
  }
}

# ------------------------------------------------------------------ robumeta CE weights + clubSandwich
ce_cases <- list()
for (spec in list(list(d = "g3_small", f = "yi ~ 1", rho = 0.8), list(d = "g3_med", f = "yi ~ x1 + x_study", rho = 0.8),
                  list(d = "g3_med", f = "yi ~ x1", rho = 0.3), list(d = "g_large", f = "yi ~ x1 + g", rho = 0.6))) {
  d <- datasets[[spec$d]]
  rb <- robu(as.formula(spec$f), data = d, studynum = study, var.eff.size = vi, modelweights = "CORR",
             rho = spec$rho, small = TRUE)
  ct <- coef_test(rb, vcov = "CR2")
  o <- list(dataset = spec$d, formula = spec$f, rho = spec$rho, tau2 = num(rb$mod_info$tau.sq),
            beta = num(ct$beta), se = num(ct$SE), tval = num(ct$tstat), df = num(ct$df_Satt), pval = num(ct$p_Satt))
  p <- length(ct$beta)
  if (p > 1) {
    w <- Wald_test(rb, constraints = constrain_zero(2:p), vcov = "CR2", test = "HTZ")
    o$wald <- list(Fstat = num(w$Fstat), df_num = num(w$df_num), df_denom = num(w$df_denom), p_val = num(w$p_val))
  }
  ce_cases[[length(ce_cases) + 1]] <- o
}

write_json(list(meta = meta, datasets = datasets, cases = cases, robust = robust_cases, vcalc = vcalc_cases,
                uni_robust = uni_cases, ce = ce_cases),
           out_file, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = FALSE)
cat("wrote", out_file, "\n")
