"""The sweep's scaling: where the stream and the watermark batch cross (python3 -m unittest)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import experiment_sweep as sweep  # noqa: E402

LIMS_SHARES = [0.10, 0.85, 0.05]


class CrossoversTest(unittest.TestCase):
    def test_a_stream_with_fixed_polling_crosses_the_watermark_batch_twice(self):
        # The fit of the LIMS points at fetch.wait.max.ms 5000: the stream loses at a trickle,
        # wins in the middle and loses again far above the measured rates. One bisection over
        # the whole range saw the same sign at both ends and reported no crossover at all.
        found = sweep.crossovers((692.0, 2930.0), 16492.0, 6471, LIMS_SHARES)
        self.assertEqual(len(found), 2, found)
        self.assertTrue(0.01 < found[0] < 0.1, found)
        self.assertTrue(100 < found[1] < 1000, found)

    def test_each_crossing_is_where_both_sides_cost_the_same(self):
        fit = (692.0, 2930.0)
        for rate in sweep.crossovers(fit, 16492.0, 6471, LIMS_SHARES):
            stream = (fit[0] + fit[1] * rate) * 3600
            watermark = sweep.watermark_per_hour(6471, 16492.0, rate, LIMS_SHARES)
            self.assertAlmostEqual(stream / watermark, 1.0, places=6)

    def test_a_stream_cheaper_everywhere_has_no_crossover(self):
        self.assertEqual(sweep.crossovers((0.0, 10.0), 16492.0, 6471, LIMS_SHARES), [])


if __name__ == "__main__":
    unittest.main()
