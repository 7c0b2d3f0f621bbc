L ~ LKJCholesky(3, 2)
x = L @ zeros(4)
