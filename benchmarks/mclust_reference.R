# Reference numbers from R's mclust, for mixfit's model-selection tests and benchmarks.
#
# mclust is GPL: this script only *calls* it as a black box and records what it
# returns (partitions, log-likelihoods, BIC values, timings). Nothing here reads,
# copies or ports mclust's code.
#
# Usage:
#   Rscript mclust_reference.R data.csv out.json [G=1:9] [--timing-only]
#                              [--repeats=N] [--seed=S]
#
#   data.csv       numeric CSV with a header row, one observation per row
#   out.json       where the JSON record goes
#   G=1:9          the numbers of components (also "1:9", "G=2,3,5")
#   --timing-only  skip the hierarchical partitions and the per-cell refits
#                  (for large data, where only the time and the best model matter)
#   --repeats=N    timed runs of Mclust(X, G); the median is reported
#                  (default: 3 when n <= 2000, else 1)
#   --seed=S       set.seed(S) before every mclust call, so the random subset that
#                  mclust draws for its hierarchical start when n > 2000 is the
#                  same in every run (default 1)
#
# The JSON written (mclust's sign for BIC throughout: 2 loglik - df log n, larger
# is better; labels are 0-based):
#   hc               the hierarchical start Mclust uses by default: model and
#                    `use` transformation (mclust.options("hcModelName", "hcUse")),
#                    and the 0-based rows of the subset it ran on (null = all rows)
#   hc_partitions    {"1": [labels], ..., "9": [labels]}: hclass(hcPairs, G), one
#                    label per row of the subset (all rows when subset is null)
#   bic_table        {model: [BIC for G in G order, null where the cell failed]}
#                    from mclustBIC(X, G) with every default
#   cells            one record per (model, G): the fit me() gets from
#                    z = unmap(hc partition at G) with emControl() defaults (for
#                    G = 1 the closed-form mvn()), which reproduces the cells of
#                    bic_table (see cells_vs_bic_table); loglik, df
#                    (nMclustParams), bic, n_iter and rel_change (attr "info"),
#                    inner_n_iter / inner_rel_change for the iterative M-steps
#                    (attr(info, "inner")), or error/return_code when it failed
#   cells_vs_bic_table  largest |cells bic - bic_table| and the cells whose
#                    success/failure differs (both should be 0 / empty)
#   best             Mclust(X, G): model, G, bic, loglik, df
#   elapsed_s        median wall time of Mclust(X, G) over `repeats` runs
#   cpu_s            median CPU time (user + system) of the same runs

suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})

parse_component_range <- function(text) {
  text <- sub("^G=", "", text)
  if (grepl("^[0-9]+:[0-9]+$", text)) {
    bounds <- as.integer(strsplit(text, ":")[[1]])
    return(seq(bounds[1], bounds[2]))
  }
  if (grepl("^[0-9]+(,[0-9]+)*$", text)) {
    return(as.integer(strsplit(text, ",")[[1]]))
  }
  stop("cannot read the numbers of components '", text,
       "': write them as G=1:9 or G=2,3,5", call. = FALSE)
}

parse_arguments <- function(args) {
  flags <- grepl("^--", args)
  positional <- args[!flags]
  if (length(positional) < 2 || length(positional) > 3) {
    stop("usage: Rscript mclust_reference.R data.csv out.json [G=1:9] ",
         "[--timing-only] [--repeats=N] [--seed=S]", call. = FALSE)
  }
  options <- list(data_path = positional[1], out_path = positional[2],
                  components = 1:9, timing_only = FALSE, repeats = NA_integer_,
                  seed = 1L)
  if (length(positional) == 3) options$components <- parse_component_range(positional[3])
  for (flag in args[flags]) {
    if (flag == "--timing-only") {
      options$timing_only <- TRUE
    } else if (grepl("^--repeats=[0-9]+$", flag)) {
      options$repeats <- as.integer(sub("^--repeats=", "", flag))
    } else if (grepl("^--seed=[0-9]+$", flag)) {
      options$seed <- as.integer(sub("^--seed=", "", flag))
    } else {
      stop("unknown option '", flag, "': use --timing-only, --repeats=N or --seed=S",
           call. = FALSE)
    }
  }
  options
}

read_numeric_matrix <- function(path) {
  table <- read.csv(path, header = TRUE, check.names = FALSE)
  numeric_columns <- vapply(table, is.numeric, logical(1))
  if (!all(numeric_columns)) {
    stop("columns ", paste(names(table)[!numeric_columns], collapse = ", "),
         " of ", path, " are not numeric: write only numeric columns", call. = FALSE)
  }
  X <- as.matrix(table)
  if (anyNA(X) || any(!is.finite(X))) {
    stop(path, " holds missing or infinite values: remove those rows first", call. = FALSE)
  }
  X
}

# A failed cell is written as JSON null, never as NA or a sentinel number.
value_or_null <- function(x) if (length(x) == 0 || is.na(x)) NULL else unname(x)

bic_table_as_list <- function(bic_matrix, components) {
  table <- list()
  for (model in colnames(bic_matrix)) {
    table[[model]] <- lapply(as.character(components), function(g) {
      value_or_null(bic_matrix[g, model])
    })
  }
  table
}

# The fit that mclust reaches from one hard partition. With one component the
# maximum-likelihood Gaussian is in closed form (mvn); me() would run the
# iterative M-steps of EVE/VVE there and stop a little short of it, and
# mclustBIC's G = 1 cells agree with mvn, not with me.
fit_cell <- function(X, model, components, labels) {
  record <- list(model = model, G = components)
  fit <- tryCatch(
    if (components == 1) mvn(model, X, warn = FALSE)
    else me(X, modelName = model, z = unmap(labels), warn = FALSE),
    error = function(e) e)
  if (inherits(fit, "error")) {
    record$error <- conditionMessage(fit)
    return(record)
  }
  if (is.na(fit$loglik)) {
    record$error <- if (is.null(attr(fit, "WARNING"))) "loglik is NA" else attr(fit, "WARNING")
    record$return_code <- value_or_null(attr(fit, "returnCode"))
    return(record)
  }
  record$loglik <- fit$loglik
  record$df <- nMclustParams(model, ncol(X), components)
  record$bic <- bic(model, fit$loglik, nrow(X), ncol(X), components)
  info <- attr(fit, "info")
  if (is.null(info)) return(record)  # mvn: closed form, no iterations
  record$n_iter <- as.integer(info[[1]])
  record$rel_change <- unname(info[[2]])
  inner <- attr(info, "inner")
  if (!is.null(inner)) {
    record$inner_n_iter <- as.integer(inner[[1]])
    record$inner_rel_change <- unname(inner[[2]])
  }
  record
}

compare_cells_with_table <- function(cells, bic_matrix) {
  largest_difference <- 0
  disagreeing <- list()
  for (cell in cells) {
    table_value <- bic_matrix[as.character(cell$G), cell$model]
    if (is.null(cell$bic) != is.na(table_value)) {
      disagreeing[[length(disagreeing) + 1]] <- paste0(cell$model, ",", cell$G)
    } else if (!is.null(cell$bic)) {
      largest_difference <- max(largest_difference, abs(cell$bic - table_value))
    }
  }
  list(max_abs_bic_difference = largest_difference, success_differs = disagreeing)
}

time_mclust <- function(X, components, repeats, seed) {
  elapsed <- cpu <- numeric(repeats)
  for (run in seq_len(repeats)) {
    set.seed(seed)
    times <- system.time(model <- Mclust(X, G = components, verbose = FALSE))
    elapsed[run] <- times[["elapsed"]]
    # CPU time as well: wall time stretches when other processes share the cores.
    cpu[run] <- times[["user.self"]] + times[["sys.self"]]
  }
  list(model = model, elapsed = elapsed, cpu = cpu)
}

main <- function() {
  options <- parse_arguments(commandArgs(trailingOnly = TRUE))
  X <- read_numeric_matrix(options$data_path)
  components <- options$components
  repeats <- if (is.na(options$repeats)) (if (nrow(X) <= 2000) 3L else 1L) else options$repeats

  timed <- time_mclust(X, components, repeats, options$seed)
  best <- timed$model
  if (is.null(best)) stop("Mclust found no model for ", options$data_path, call. = FALSE)

  record <- list(
    mclust_version = as.character(packageVersion("mclust")),
    R_version = R.version.string,
    n = nrow(X), d = ncol(X), G = I(components), seed = options$seed,
    em_control = list(tol = emControl()$tol, itmax = emControl()$itmax),
    best = list(model = best$modelName, G = best$G, bic = best$bic,
                loglik = best$loglik, df = best$df),
    elapsed_s = median(timed$elapsed),
    elapsed_runs_s = I(timed$elapsed),
    cpu_s = median(timed$cpu),
    timed_call = "Mclust(X, G = G, verbose = FALSE)"
  )

  # Recomputed with the same seed so that a random hc subset (n > 2000) is the one
  # the timed runs used.
  set.seed(options$seed)
  bic_matrix <- mclustBIC(X, G = components, verbose = FALSE)
  initialization <- attr(bic_matrix, "initialization")
  hc_pairs <- initialization$hcPairs
  subset_rows <- initialization$subset
  if (is.logical(subset_rows)) subset_rows <- which(subset_rows)
  record$hc <- list(
    model = attr(hc_pairs, "modelName"),
    use = attr(hc_pairs, "use"),
    options = list(hcModelName = mclust.options("hcModelName"),
                   hcUse = mclust.options("hcUse"),
                   subset = mclust.options("subset")),
    call = paste(deparse(attr(hc_pairs, "call")), collapse = " "),
    subset_rows = if (is.null(subset_rows)) NULL else as.integer(subset_rows) - 1L
  )
  record$bic_table <- bic_table_as_list(bic_matrix, components)

  if (!options$timing_only) {
    partitions <- hclass(hc_pairs, components)
    record$hc_partitions <- list()
    for (g in as.character(components)) {
      record$hc_partitions[[g]] <- as.integer(partitions[, g]) - 1L
    }
    if (is.null(subset_rows)) {
      record$cells_method <- paste(
        "G = 1: mvn(modelName, X) (closed form, no n_iter);",
        "G > 1: me(X, modelName, z = unmap(hclass(hcPairs, G)[, G]), control = emControl())",
        "with hcPairs = attr(mclustBIC(X, G), 'initialization')$hcPairs")
      cells <- list()
      for (g in components) {
        for (model in colnames(bic_matrix)) {
          cells[[length(cells) + 1]] <- fit_cell(X, model, g, partitions[, as.character(g)])
        }
      }
      record$cells <- cells
      record$cells_vs_bic_table <- compare_cells_with_table(cells, bic_matrix)
    } else {
      record$cells_method <- "not computed: the hierarchical start ran on a subset"
    }
  }

  write_json(record, options$out_path, auto_unbox = TRUE, digits = NA,
             null = "null", na = "null", pretty = FALSE)
}

main()
