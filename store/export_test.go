package store

// MessageFlagsSQL lets the tests explain the campaign queries' plan.
const MessageFlagsSQL = messageFlags
