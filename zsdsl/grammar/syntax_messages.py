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
