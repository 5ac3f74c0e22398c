import { expect } from 'chai';

import { capabilitiesWithin } from './node-container.js';

describe('node container capabilities', () => {
  it('grants every capability of the bounding set that Docker knows, and no other', () => {
    // This machine's set: all of 0..40 but CAP_SYS_RESOURCE (24).
    const caps = capabilitiesWithin(0x000001fffeffffffn);
    expect(caps).to.have.length(37);
    expect(caps).to.include.members(['SYS_ADMIN', 'NET_ADMIN', 'AUDIT_READ', 'CHOWN']);
    expect(caps).to.not.include('SYS_RESOURCE');
  });

  it('grants nothing for an empty set', () => {
    expect(capabilitiesWithin(0n)).to.deep.equal([]);
  });
});
