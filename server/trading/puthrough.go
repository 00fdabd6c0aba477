package trading

// desk is the put-through desk: the IOI board, put-through quotes and KRX
// quotes.
type desk struct{}

func (d *desk) init() {}
