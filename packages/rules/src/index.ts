export * from './catalog.ts';
export * from './downgrade.ts';
export * from './evaluate.ts';
export * from './period.ts';
export * from './time.ts';
export * from './usage.ts';
