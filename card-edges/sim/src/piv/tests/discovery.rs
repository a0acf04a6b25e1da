//! Windows' discovery flows (this crate's `detect`) against the simulated card: it is a PIV
//! card to Plug and Play and to the class minidriver, and their probes do not disturb it.

use crate::PivSim;
use card_edges::detect::{CardEdge, ClassConfig, PnpIdentity, class_minidriver, plug_and_play};
use card_edges::iso7816::{Atr, Session};
use card_edges::transport::memory::CardSlot;

use super::Host;

#[test]
fn plug_and_play_and_the_class_minidriver_see_piv() {
    let sim = PivSim::default_card().unwrap();
    let mut h = Host::new(sim.clone());
    h.verify_pin();
    let mut session = Session::from_atr(CardSlot::new(sim.clone()).connect().unwrap()).unwrap();
    assert!(session.limits().extended, "the ATR declares extended length");

    let pnp = plug_and_play(&mut session).unwrap();
    let historical = Atr::parse(&sim.atr()).unwrap().historical;
    assert_eq!(pnp.identity, Some(PnpIdentity::Piv { device_id: Some(historical) }), "{:#?}", pnp.evidence);
    let class = class_minidriver(&mut session, &ClassConfig::default()).unwrap();
    assert_eq!(class.edge, Some(CardEdge::Piv), "{:#?}", class.evidence);
    // The probes (PnP AID, GET DATA 7F68, MF, EF.ATR) left PIV selected and the PIN verified.
    assert!(sim.pin_verified());
    assert_eq!(h.get_data(&[0x5F, 0xC1, 0x02]).sw.0, 0x9000);
}
