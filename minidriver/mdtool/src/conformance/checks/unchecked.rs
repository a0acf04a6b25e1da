//! The items a black-box run cannot judge, each listed with the reason (never as a pass): what
//! only the CSP, the operating system, the card's own view of the APDUs, or a second card could
//! tell. The project's own driver is proven on them by its cargo tests
//! (`minidriver/CHECKLIST.md`).

use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict};

macro_rules! unchecked {
    ($(($item:literal, $id:literal, $reason:literal)),* $(,)?) => {
        pub(crate) const CHECKS: &[Check] = &[
            $(check($id, $item, "", |_: &mut Run<'_>| -> Checked { Err(Verdict::not_checked($reason)) }),)*
        ];
    };
}

unchecked![
    (1, "general.export", "the CSP resolves CardAcquireContext by name: a run with --driver did so already"),
    (2, "general.layout", "the CPDK layout is what the runner itself uses; a mismatch shows as failures elsewhere"),
    (6, "general.panics", "a panic cannot be provoked in a library from outside"),
    (
        8,
        "general.string_kinds",
        "string kinds are the ABI itself: every call here passes ANSI names and UTF-16 properties"
    ),
    (9, "general.validate_first", "whether a refusal came before any card I/O needs the card's view of the APDUs"),
    (12, "general.no_ui", "UI can only be seen on a desktop"),
    (13, "general.resources", "needs readers and cards removed, and twin cards"),
    (
        14,
        "general.signing",
        "Authenticode signing and shared sections are properties of the DLL file, not of its calls"
    ),
    (24, "acquire.unknown_card", "needs a card this driver does not know in the reader"),
    (27, "acquire.select", "which application was selected needs the card's view of the APDUs"),
    (31, "acquire.no_card_mode_calls", "NO_CARD_MODE contexts exist only with secure key injection"),
    (32, "acquire.atr", "ATR uniqueness is the card's and the registry's, not the driver's"),
    (35, "delete.after_detach", "DLL_PROCESS_DETACH happens in the Windows loader"),
    (42, "memory.padding_callbacks", "the runner installs no padding callbacks, as a CSP may do"),
    (44, "handles.no_transactions", "the driver's own SCardBeginTransaction calls are invisible to the CSP"),
    (
        47,
        "handles.no_reconnect",
        "the driver's own SCardConnect/Reconnect/Disconnect calls are invisible (contexts.handles_left_alone sees their effect)"
    ),
    (48, "handles.reset", "a reset the CSP recovers from needs the CSP's reconnection logic"),
    (49, "handles.reset_after_deauth", "the CSP's reset after a failed deauthentication is the CSP's"),
    (50, "handles.new_card", "needs a different card inserted behind the driver's back"),
    (56, "pins.types", "how Windows prompts for each PinType is Windows' behaviour"),
    (57, "pins.purposes", "prompt texts are Windows' (pins.unblock_only covers UnblockOnly)"),
    (58, "pins.cache_policy", "PIN caching is the CSP's"),
    (61, "pins.malformed_not_sent", "whether a malformed PIN reached the card needs the card's view of the APDUs"),
    (69, "pins.wrong_keeps_others", "needs a second role authenticated and a wrong PIN for it"),
    (71, "pins.session_pin_tries", "the real PIN's counter after a wrong session PIN needs the card's view"),
    (72, "pins.session_pin_properties", "session PIN lifetime across processes and resets is the card's"),
    (73, "pins.external", "external PINs (PIN pads) need a person at the reader"),
    (74, "pins.secure_channel", "the secure PIN channel is set up by a trusted Windows process"),
    (78, "pins.wrong_response", "a wrong administrator response could block the administrator key for good"),
    (85, "pins.change_voids_session", "needs a session PIN, a PIN change and the card's view"),
    (86, "pins.freshness", "bPinsFreshness is bumped by the CSP, not the driver"),
    (91, "files.atomic", "the file functions have no handles: atomicity is the interface itself"),
    (93, "files.no_catch_all", "needs a card that goes away in the middle of a read"),
    (96, "files.delete_directory", "covered by writes.directory (needs --destructive)"),
    (100, "files.delete_file", "covered by writes.file (needs --destructive)"),
    (104, "files.directory_acs", "directory access conditions cannot be queried through the interface"),
    (105, "files.write_simulation", "write simulation is an optional design choice of a driver"),
    (108, "files.blank_card", "needs a blank card"),
    (113, "properties.read_only_truth", "whether a card is genuinely read-only is known only to its issuer"),
    (117, "properties.read_only_settable", "applies to read-only cards only (readonly.content_rules)"),
    (121, "containers.set_pin", "changing a container's PIN changes the card for other programs"),
    (122, "containers.index", "the index is the CSP's choice"),
    (124, "containers.key_spec_sizes", "covered by writes.key_generation (needs --destructive)"),
    (125, "containers.overwrite", "overwriting a container destroys its key"),
    (126, "containers.import", "importing a key changes the card (not done by this runner)"),
    (127, "containers.admin_creates", "needs a key generation as the administrator"),
    (128, "containers.create_ex", "needs a key generation with a PIN id"),
    (140, "crypto.finished_hash", "shown by the signatures verifying (crypto.sign_*)"),
    (143, "crypto.decrypt_null", "covered by args.rsa_decrypt"),
    (148, "crypto.padding_oracle", "a padding oracle is a timing and error-shape property"),
    (149, "crypto.unpad_callback", "the runner installs no pfnCspUnpadData"),
    (152, "crypto.destroy_agreement", "covered by crypto.ecdh"),
    (156, "cache.outside_changes", "needs another program changing the card"),
    (157, "cache.mode_choice", "covered by properties.cache_mode"),
    (159, "cache.session_entries", "which cache entries hold private data is the driver's"),
    (160, "cache.validation", "cardid + cardcf validation is the CSP's (cache.second_context sees its effect)"),
    (161, "readonly.advertised", "applies to read-only cards only (readonly.content_rules)"),
    (162, "readonly.required_set", "applies to read-only cards only"),
    (163, "readonly.stubs", "applies to read-only cards only"),
    (165, "readonly.simulation_lifetime", "write simulation is an optional design choice of a driver"),
    (167, "ski.import_session_key", "secure key injection only (properties.no_key_import)"),
    (168, "ski.encrypt_data", "secure key injection only"),
    (169, "ski.destroy_key", "secure key injection only"),
    (170, "ski.properties", "secure key injection only"),
    (171, "ski.process_encrypted_data", "secure key injection only"),
    (172, "registration.inf", "registration is an INF on Windows"),
    (173, "registration.cmck", "the HLK/cmck run is Microsoft's, on Windows"),
    (174, "registration.csp_behaviour", "the CSP's own behaviour"),
];
