"""The fitting loops, on validated arrays: EM (:mod:`.em`), K-means (:mod:`.kmeans`)
and the starts (:mod:`.init`).

The engine knows the families and kernels below it and nothing of the
estimators above: it takes arrays and parameters, and returns results.
"""
