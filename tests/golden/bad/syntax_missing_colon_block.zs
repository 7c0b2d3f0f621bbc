data
  x: real
