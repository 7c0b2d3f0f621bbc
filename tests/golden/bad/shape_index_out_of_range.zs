data:
  v: real[3]
y = v[3]
