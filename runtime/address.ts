/** Moved to protocol/address.ts (the wire knows addresses, not actors): its last importers go there next. */
export * from '../protocol/address.ts';
