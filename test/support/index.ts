export { createTestWorld, type TestWorld } from './isolation.ts';
export { seedResource } from './resources.ts';
export { type ServiceProcess, startServiceProcess } from './process.ts';
export { type ServiceUrls, serviceUrls } from './services.ts';
export { eventually } from './wait.ts';
