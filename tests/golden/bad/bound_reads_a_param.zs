params:
  c: real
x: real in (0, exp(c)) ~ Flat()
