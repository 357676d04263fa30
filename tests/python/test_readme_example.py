import numpy as np

import kiln
import kiln.tensor as T


def test_readme_example_trains_shared_weights():
    x = T.matrix('x')
    w = kiln.shared(np.zeros((3, 2), dtype=kiln.config.floatX), name='w')
    y = T.tanh(T.dot(x, w) + 1).sum(axis=1)
    f = kiln.function([x], y, updates=[(w, w + 0.1)])
    data = np.ones((4, 3), dtype=kiln.config.floatX)
    first = f(data)
    np.testing.assert_allclose(first, np.full(4, 2 * np.tanh(1.0)))
    np.testing.assert_allclose(w.get_value(), np.full((3, 2), 0.1))
    second = f(data)
    np.testing.assert_allclose(second, np.tanh(data @ np.full((3, 2), 0.1) + 1).sum(axis=1))
    np.testing.assert_allclose(w.get_value(), np.full((3, 2), 0.2))
