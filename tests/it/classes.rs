//! Storage classes as S3 names them: the ones whose terms wharf knows, and
//! any other kept by its name (a newer class, a safety copy's `LOCAL`), so
//! that a listing, a manifest written back and the prices never lose one.

use wharf::model::snapshots::{Manifest, S3Class};
use wharf::snapshots::pricing;

#[test]
fn a_class_wharf_never_writes_is_read_priced_and_written_back_by_its_name() {
    let sample = crate::support::sample_snapshots();
    let manifest = sample[0].manifest.clone().unwrap();
    assert_eq!(manifest.storage_class, S3Class::OnezoneIa);
    for (name, class, short) in [
        ("GLACIER", S3Class::Glacier, "GLACIER"),
        ("DEEP_ARCHIVE", S3Class::DeepArchive, "DEEP-ARCH"),
        ("ONEZONE_IA", S3Class::OnezoneIa, "1Z-IA"),
        ("EXPRESS_ONEZONE", S3Class::Other("EXPRESS_ONEZONE".into()), "EXPRESS_ONEZONE"),
    ] {
        let mut json = serde_json::to_value(&manifest).unwrap();
        json["storage_class"] = name.into();
        let read: Manifest = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(read.storage_class, class, "{name}");
        assert_eq!(read.storage_class.short(), short);
        // Written back (a remote backup's manifest copies the object's class) as it was read.
        assert_eq!(serde_json::to_value(&read).unwrap(), json, "{name}");
    }

    // What S3 makes the user do, and bills, by class.
    let gb = 2_000_000_000;
    let glacier = pricing::restore_warning(&S3Class::Glacier, gb).unwrap();
    assert!(glacier.starts_with("GLACIER objects must be restored in S3 first"), "{glacier}");
    let ia = pricing::restore_warning(&S3Class::OnezoneIa, gb).unwrap();
    assert!(ia.contains("$0.020"), "{ia}");
    assert_eq!(pricing::restore_warning(&S3Class::Standard, gb), None);
    let early = pricing::delete_warning(&S3Class::DeepArchive, 10).unwrap();
    assert!(early.contains("180 days at least") && early.contains("170 days left"), "{early}");
    assert_eq!(pricing::delete_warning(&S3Class::StandardIa, 30), None);
    // A class wharf does not know is priced as STANDARD, never as free.
    let unknown = S3Class::named("EXPRESS_ONEZONE");
    assert_eq!(pricing::monthly_cost(&unknown, gb), pricing::monthly_cost(&S3Class::Standard, gb));
    assert!(pricing::monthly_cost(&S3Class::Glacier, gb) < pricing::monthly_cost(&S3Class::StandardIa, gb));
}
