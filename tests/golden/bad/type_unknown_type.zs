data:
  x: reel[3]
