/// What a repeated task on an event loop reaches its owner through, so that the owner itself is
/// never the target of a weak reference.
///
/// A weak reference gives its object a side table, and every retain and release of that object
/// then takes the Swift runtime's slow path; the owners here (a downstream connection's handler, a
/// loop's cluster) are retained and released several times a request. An unowned capture is not
/// safe either: cancelling a `RepeatedTask` does not stop a run its loop has already taken up,
/// which can come after the owner is gone.
///
/// So the owner holds its target strongly (and is its only owner), the task holds the target
/// weakly and finds nil once the owner is gone. The reference back is unowned(unsafe): owner,
/// target and task all live on one event loop, and the owner is freed on it, so a target the task
/// can still load has a live owner.
final class RepeatedTaskTarget<Owner: AnyObject> {
    unowned(unsafe) let owner: Owner

    init(_ owner: Owner) {
        self.owner = owner
    }
}
