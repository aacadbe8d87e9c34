/// Tells a balancer with a derived table (ring hash, Maglev) when its endpoint list changed, so
/// the table is rebuilt on a change and never per pick.
///
/// `LoopCluster` installs each new list as a new array and never mutates one in place, so a
/// change of list shows as a change of the array's storage. The snapshot keeps the array it saw,
/// so that storage stays alive and a new list can never reuse its address: comparing the two base
/// addresses is exact and costs nothing. A weight changed by a push is stored before the new list
/// is installed on each loop, so it is picked up with the list.
struct EndpointListSnapshot {
    /// The list the table was built from; table entries index into it.
    private(set) var endpoints: [LoopEndpoint] = []

    /// Whether `current` differs from the snapshot; if so it becomes the snapshot.
    mutating func update(_ current: [LoopEndpoint]) -> Bool {
        let same =
            current.count == endpoints.count
            && current.withUnsafeBufferPointer { now in
                endpoints.withUnsafeBufferPointer { then in now.baseAddress == then.baseAddress }
            }
        if same { return false }
        endpoints = current
        return true
    }
}
