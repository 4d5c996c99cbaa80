export {
  type FakeAddon,
  type FakeAppInput,
  type FakeCollaborator,
  type FakePlatform,
  type FakePlatformOptions,
  FakePlatformState,
  type FakeTeamMember,
  startFakePlatform,
} from './server.ts';
