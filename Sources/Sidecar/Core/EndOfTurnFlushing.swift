/// An owner of an `EndOfTurnFlush`: what it calls at the end of the turn.
protocol EndOfTurnFlushing: AnyObject {
    func flushAtEndOfTurn()
}
