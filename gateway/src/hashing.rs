//! Hash maps on the request path. std's SipHash costs about a hundred instructions for a short
//! key, and a brokered request looks a key up in half a dozen maps (providers, manifests, the
//! pool, the service tokens, the brokered users, the metric series); foldhash costs a fraction of
//! that. Its seed is random per process and per map, so a map's layout cannot be predicted by
//! whoever picks its keys. The keys here are provider ids, user ids and route names: sets the
//! registry bounds, not the callers.

pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
