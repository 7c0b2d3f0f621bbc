"""Curated syntax-error messages, keyed by examples of the bad input they explain.

Lark's ``match_examples`` replays each example and, when the parser fails in the
same state as the user's input, the message here replaces the generic one.
A test keeps every example failing (so none of them goes stale).
"""

CURATED_EXAMPLES: dict[str, list[str]] = {
    "A block header needs a colon and an indented body, e.g. 'data:' followed by indented declarations.": [
        "data\n  x: real\n",
        "dims\n  K = 3\n",
        "nets\n  f = Linear(2 -> 3)\n",
    ],
    "A plate needs a size and a colon: 'plate n in N:' (optionally 'plate n in N, subsample=64:').": [
        "plate n in N\n  x[n] ~ Normal(0, 1)\n",
        "plate n N:\n  x[n] ~ Normal(0, 1)\n",
        "plate in N:\n  x[n] ~ Normal(0, 1)\n",
    ],
    "A declaration needs a type after the colon, e.g. 'x: real[N]'.": [
        "data:\n  x:\n",
        "data:\n  x: [N]\n",
    ],
    "Missing ')' : a call or parenthesised expression is not closed.": [
        "x ~ Normal(0, 1\n",
        "x ~ Normal(f(0), 1\n",
    ],
    "Missing ']' : an index or list is not closed.": [
        "x ~ Normal(y[0, 1)\n",
    ],
    "A statement is 'name ~ Distribution(...)', 'name = expression', 'factor expression' or a plate; "
    "did you mean '~' or '='?": [
        "x Normal(0, 1)\n",
        "x <- Normal(0, 1)\n",
    ],
    "A distribution or expression is missing after '~' or '='.": [
        "x ~\n",
        "x =\n",
        "x ~ , event=[3]\n",
    ],
    "An operator is missing its right-hand operand.": [
        "x = 1 +\n",
        "x = 2 *\n",
        "x ~ Normal(0, 1 *)\n",
    ],
    "Data declarations have the form 'name: type[shape] in constraint', one per line; "
    "statements cannot appear inside the data block.": [
        "data:\n  x ~ Normal(0, 1)\n",
        "data:\n  x = 3\n",
    ],
    "A bound is written as an interval: 'in [0, 1]', 'in (0, inf)', 'in [0, 10)'; or a set: 'in {0, 1}'.": [
        "data:\n  x: real in 0, 1\n",
        "data:\n  x: real in > 0\n",
    ],
    "Layer sizes are written with arrows inside the call: 'MLP(784 -> 500 -> 10, act=relu)'.": [
        "nets:\n  f = MLP(784 -> )\n",
        "nets:\n  f = MLP(-> 10)\n",
    ],
}


# Stan's habits, recognised on the line where parsing failed (a regular expression over that line) and
# explained with the zsdsl form. Checked before the table above: these say more than the parser's state.
# Each entry: (pattern, message, examples); a test runs every example and expects its message.
_BLOCKS = r"(parameters|model|transformed\s+data|transformed\s+parameters|generated\s+quantities|functions)"
_NO_BLOCKS = ("zsdsl has no parameters, model or transformed blocks: declare each latent where it is sampled "
              "('sigma: real in (0, inf) ~ HalfNormal(1)'), write transformed data and transformed parameters as "
              "'name = expression' and model statements at the top level, generated quantities under "
              "'generated:'.")  # fmt: skip
STAN_HABITS: list[tuple[str, str, list[str]]] = [
    (r"^\s*functions\s*[{:]",
     "Stan's functions block is one 'def' per function here, at the top level: 'def f(x: real[K], s: real) -> "
     "real[K]:' with its lines indented below it and 'return expression' last.",
     ["functions {\n  real f(real x) { return x; }\n}\n", "functions:\n  def f(x: real) -> real:\n"]),
    (r"\b(real|int|vector|matrix|row_vector)\s*<\s*(lower|upper|offset)",
     "Bounds follow the type with 'in': 'sigma: real in (0, inf)' is Stan's real<lower=0>, 'p: real in (0, 1)' "
     "is <lower=0, upper=1>, 'N: int in [0, inf)' is int<lower=0>.",
     ["data:\n  N: int<lower=0>\n", "sigma: real<lower=0> ~ HalfNormal(1)\n"]),
    (r"^\s*target\s*\+=", "Stan's 'target += e' is 'factor e' here.", ["x ~ Normal(0, 1)\ntarget += -x\n"]),
    (r"^\s*for\s*\(|^\s*for\s+\w+\s+in\b",
     "zsdsl has no for loops: write the statement once for all elements ('y ~ Normal(mu, sigma), event=[N]'), "
     "or inside a plate ('plate i in N:' with 'y[i] ~ ...' indented below it); a loop that carries a value from "
     "one step to the next is a scan ('scan t in range(1, T), s = s0:' with the step indented below it).",
     ["x ~ Normal(0, 1)\nfor (i in 1:N)\n", "for (n in 1:N) {\n"]),
    (rf"^\s*(data|{_BLOCKS})\s*\{{",
     "Blocks are written 'data:' with an indented body, not in braces. " + _NO_BLOCKS,
     ["data {\n  int N;\n}\n", "parameters {\n  real mu;\n}\n"]),
    (rf"^\s*{_BLOCKS}\s*:", _NO_BLOCKS,
     ["parameters:\n  x: real\n", "mu ~ Normal(0, 1)\nmodel:\n  x ~ Normal(mu, 1)\n"]),
    (r"^\s*(real|int|vector|matrix|row_vector|array|simplex|ordered)\b[^=~:]*\s[A-Za-z_]\w*\s*;?\s*$",
     "Declarations are 'name: type': 'mu: real ~ Normal(0, 1)' for a latent (Stan's parameters), "
     "'y: real[N]' under 'data:'.",
     ["real sigma;\n", "vector[N] y;\n", "data:\n  int N;\n"]),
    (r"\.\*|\./|\.\^",
     "Elementwise operators are '*', '/' and '^' (Stan's .*, ./ and .^); '@' is the matrix product.",
     ["x ~ Normal(0, 1)\ny = x .* x\n"]),
    (r":\s*array\s*\[", "Arrays are written with the shape on the element type: 'k: int[N]' is Stan's array[N] int.",
     ["data:\n  y: array[N] int\n"]),
    (r";\s*(#.*)?$", "Statements end at the end of the line: drop the ';'.", ["x ~ Normal(0, 1);\n"]),
    (r"^\s*print\s*\(|^\s*reject\s*\(",
     "There is no print() or reject(): generated quantities (under 'generated:') are reported with the draws.",
     ["x ~ Normal(0, 1)\nprint(x)\n"]),
    (r"\bT\s*\[",
     "Truncation T[a, b] is not supported. A latent with fixed bounds is declared with 'in' ('x: real in (0, inf) ~ "
     "Normal(0, 1)'), which gives the posterior of Stan's truncated prior; truncated observations cannot be "
     "written yet.",
     ["x ~ Normal(0, 1) T[0, ]\n"]),
    (r"^\s*scan\s+\w+\s+in\s+[^,(]*:",
     "A scan runs over range(a, b): 'scan t in range(1, T):' runs t = 1 to T - 1, as Python's range "
     "(Stan's 'for (t in 2:T)' with 0-based indices); range(T) is 0 to T - 1.",
     ["scan t in 1:T:\n    a = 1\n", "scan t in 0:N, s = 0:\n"]),
    (r"\bincrement_log_prob\s*\(", "Stan's increment_log_prob(e) is 'factor e' here.",
     ["increment_log_prob(-x)\n"]),
]  # fmt: skip
