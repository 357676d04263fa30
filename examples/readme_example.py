"""The first kiln program: a shared weight matrix, a compiled function with an update."""
import numpy as np

import kiln
import kiln.tensor as T

x = T.matrix('x')
w = kiln.shared(np.zeros((3, 2), dtype=kiln.config.floatX), name='w')
y = T.tanh(T.dot(x, w) + 1).sum(axis=1)
f = kiln.function([x], y, updates=[(w, w + 0.1)])
print(f(np.ones((4, 3), dtype=kiln.config.floatX)), w.get_value())
