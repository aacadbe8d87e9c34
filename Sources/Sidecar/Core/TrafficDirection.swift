/// Which way traffic flows through a listener: `inbound` (mesh → local app) or `outbound` (local app → mesh).
public enum TrafficDirection: String, Sendable {
    case inbound
    case outbound
}
