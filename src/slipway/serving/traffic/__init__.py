"""Traffic strategies of `slipway serve --traffic traffic.yaml`: several model versions
(variants) served side by side in one server, and how requests are shared between them.

    name: churn-ab                       # the experiment (state folder, metrics, audit)
    variants:
      champion:   {model: "models:/churn-classifier@champion"}
      challenger: {model: "models:/churn-classifier@challenger"}
    strategy: canary                     # split | ab | shadow | canary | bandit
    split: {champion: 90, challenger: 10}                 # split, ab
    ab: {key: user_id}                                    # ab: x-user-id header or body field
    shadow: {primary: champion, shadow: challenger, queue: 1000, sample: 1.0}
    canary: {primary: champion, canary: challenger, start: 5, step: 15, every: 10m,
             max_error_rate: 0.01, max_p99_ms: 50, min_requests: 100,
             promote_alias: champion}
    bandit: {reward: binary, min_explore: 0.05}           # binary | gaussian

- **split**: fixed percentages, changed live with `POST /traffic` (`slipway traffic set`).
- **ab**: the same percentages, but a request's variant is a stable hash of its key.
- **shadow**: the primary answers everything; a copy goes to the shadow, which is logged
  and compared, never returned.
- **canary**: the canary's share steps up while it stays healthy, rolls back at once when
  it does not, and is promoted (an alias moved in the registry) at 100%.
- **bandit**: Thompson sampling over the rewards posted to `/feedback`.

Every routed answer says its variant (`x-slipway-variant`; `"variant"` in `/predict`'s
body); a request naming a variant as its model (`"model": "challenger"`,
`/v2/models/challenger/infer`) goes to that variant and is not routed, mirrored or
counted in the experiment. `GET /traffic` shows the live split and each variant's
numbers over all workers.

Modules: `config` (the file), `routing` (choosing a variant), `stats` (what is counted),
`state` (the state folder shared by workers and restarts), `canary`, `bandit`, `shadow`,
`feedback` (which variant answered a request id), `controller` (what the app calls).
"""

from __future__ import annotations

from slipway.serving.traffic.config import TrafficConfig, TrafficConfigError, load_traffic_config

__all__ = ["TrafficConfig", "TrafficConfigError", "load_traffic_config"]
