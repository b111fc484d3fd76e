use super::table;
use super::*;

fn t(name: &str) -> TypeRef {
    type_named(name).unwrap_or_else(|| panic!("type {name} missing"))
}

fn names(types: &[TypeRef]) -> Vec<&'static str> {
    types.iter().map(|t| t.name()).collect()
}

#[test]
fn embedded_table_parses_and_has_the_resources() {
    check_table().unwrap();
    let n = resource_types().count();
    assert!(n >= 140, "only {n} resource types");
    assert!(is_resource_type("Patient"));
    assert!(is_resource_type("Bundle"));
    assert!(is_resource_type("Parameters"));
    assert!(!is_resource_type("DomainResource"));
    assert!(!is_resource_type("Quantity"));
    assert!(!is_resource_type("patient"));
    let all: Vec<_> = resource_types().collect();
    let mut sorted = all.clone();
    sorted.sort_unstable();
    assert_eq!(all, sorted);
}

#[test]
fn primitive_types_are_primitive_and_map_to_system_types() {
    let expected = [
        ("boolean", SystemType::Boolean),
        ("integer", SystemType::Integer),
        ("unsignedInt", SystemType::Integer),
        ("positiveInt", SystemType::Integer),
        ("decimal", SystemType::Decimal),
        ("date", SystemType::Date),
        ("dateTime", SystemType::DateTime),
        ("instant", SystemType::DateTime),
        ("time", SystemType::Time),
        ("string", SystemType::String),
        ("uri", SystemType::String),
        ("url", SystemType::String),
        ("canonical", SystemType::String),
        ("code", SystemType::String),
        ("id", SystemType::String),
        ("markdown", SystemType::String),
        ("base64Binary", SystemType::String),
        ("oid", SystemType::String),
        ("uuid", SystemType::String),
        ("xhtml", SystemType::String),
    ];
    for (name, sys) in expected {
        let ty = t(name);
        assert!(ty.is_primitive(), "{name}");
        assert!(!ty.is_resource(), "{name}");
        assert_eq!(ty.namespace(), "FHIR");
        assert_eq!(system_type_of_primitive(ty), Some(sys), "{name}");
        assert!(is_subtype_of(ty, t("Element")), "{name}");
    }
    assert_eq!(system_type_of_primitive(t("Quantity")), None);
    assert_eq!(
        system_type_of_primitive(t("System.Date")),
        Some(SystemType::Date)
    );
}

#[test]
fn primitive_value_has_its_system_type() {
    let v = child(t("string"), "value").unwrap();
    assert_eq!(v.ty, Some(SystemType::String.type_ref()));
    // inherited by the specialisations: code → string, positiveInt → integer
    let v = child(t("code"), "value").unwrap();
    assert_eq!(v.ty, Some(SystemType::String.type_ref()));
    let v = child(t("positiveInt"), "value").unwrap();
    assert_eq!(v.ty, Some(SystemType::Integer.type_ref()));
    // and id/extension from Element
    assert_eq!(child(t("date"), "id").unwrap().ty, Some(t("string")));
    let ext = child(t("date"), "extension").unwrap();
    assert!(ext.many);
    assert_eq!(ext.ty, Some(t("Extension")));
}

#[test]
fn type_names_resolve_by_namespace() {
    assert_eq!(t("Boolean"), SystemType::Boolean.type_ref());
    assert_ne!(t("boolean"), t("Boolean"));
    assert_eq!(t("FHIR.boolean"), t("boolean"));
    assert_eq!(type_named("FHIR.Boolean"), None);
    assert_eq!(t("System.Quantity"), SystemType::Quantity.type_ref());
    assert_ne!(t("System.Quantity"), t("Quantity"));
    assert_eq!(t("Quantity").kind(), TypeKind::Complex);
    assert_eq!(type_named("System.Nope"), None);
    assert_eq!(type_named("Nope"), None);
    let s = t("System.String");
    assert!(s.is_system());
    assert_eq!((s.name(), s.namespace()), ("String", "System"));
    assert_eq!(s.to_string(), "System.String");
    assert_eq!(t("Patient").to_string(), "FHIR.Patient");
    for st in SystemType::ALL {
        assert_eq!(
            type_named(&format!("System.{}", st.name())),
            Some(st.type_ref())
        );
        assert_eq!(system_type_of_primitive(st.type_ref()), Some(st));
    }
}

#[test]
fn choice_elements_by_concrete_and_bare_key() {
    let obs = t("Observation");
    let c = child(obs, "valueQuantity").unwrap();
    assert_eq!(
        c,
        Child {
            name: "value",
            ty: Some(t("Quantity")),
            types: c.types,
            many: false,
            choice: true
        }
    );
    let bare = child(obs, "value").unwrap();
    assert!(bare.choice && !bare.many);
    assert_eq!(bare.ty, None);
    assert_eq!(
        names(bare.types),
        [
            "Quantity",
            "CodeableConcept",
            "string",
            "boolean",
            "integer",
            "Range",
            "Ratio",
            "SampledData",
            "time",
            "dateTime",
            "Period"
        ]
    );
    assert_eq!(child(obs, "valueDateTime").unwrap().ty, Some(t("dateTime")));
    assert_eq!(child(obs, "valueString").unwrap().ty, Some(t("string")));
    assert_eq!(child(obs, "_valueString").unwrap().ty, Some(t("string")));
    // not an allowed type, or wrong case
    assert_eq!(child(obs, "valueAge"), None);
    assert_eq!(child(obs, "valuedateTime"), None);
    assert_eq!(child(obs, "valueX"), None);
    assert_eq!(choice_types(obs, "value"), Some(bare.types));
    assert_eq!(choice_types(obs, "valueQuantity"), None);
    assert_eq!(choice_types(obs, "status"), None);
    let deceased = choice_types(t("Patient"), "deceased").unwrap();
    assert_eq!(names(deceased), ["boolean", "dateTime"]);
    // Extension.value[x] allows every datatype
    let ext = t("Extension");
    assert_eq!(child(ext, "valueAge").unwrap().ty, Some(t("Age")));
    assert_eq!(
        child(ext, "valueBase64Binary").unwrap().ty,
        Some(t("base64Binary"))
    );
}

#[test]
fn choice_json_keys() {
    assert_eq!(choice_json_key("value", t("Quantity")), "valueQuantity");
    assert_eq!(choice_json_key("value", t("dateTime")), "valueDateTime");
    assert_eq!(choice_json_key("value", t("string")), "valueString");
    assert_eq!(choice_json_key("deceased", t("boolean")), "deceasedBoolean");
    // round trip over every choice type of Observation.value
    let obs = t("Observation");
    for &ty in choice_types(obs, "value").unwrap() {
        let key = choice_json_key("value", ty);
        assert_eq!(child(obs, &key).unwrap().ty, Some(ty), "{key}");
    }
}

#[test]
fn plain_elements_cardinality_and_primitive_extension_keys() {
    let p = t("Patient");
    let bd = child(p, "birthDate").unwrap();
    assert_eq!(
        (bd.name, bd.ty, bd.many, bd.choice),
        ("birthDate", Some(t("date")), false, false)
    );
    assert_eq!(child(p, "_birthDate"), Some(bd));
    let name = child(p, "name").unwrap();
    assert!(name.many);
    assert_eq!(name.ty, Some(t("HumanName")));
    assert_eq!(child(p, "active").unwrap().ty, Some(t("boolean")));
    assert_eq!(child(p, "nope"), None);
    assert_eq!(child(p, ""), None);
    assert_eq!(child(p, "_"), None);
    assert_eq!(
        child(t("Observation"), "issued").unwrap().ty,
        Some(t("instant"))
    );
}

#[test]
fn inherited_elements_are_found() {
    let p = t("Patient");
    assert_eq!(child(p, "id").unwrap().ty, Some(t("string")));
    assert_eq!(child(p, "meta").unwrap().ty, Some(t("Meta")));
    assert_eq!(child(p, "implicitRules").unwrap().ty, Some(t("uri")));
    assert_eq!(child(p, "text").unwrap().ty, Some(t("Narrative")));
    let contained = child(p, "contained").unwrap();
    assert!(contained.many);
    assert_eq!(contained.ty, Some(t("Resource")));
    assert!(child(p, "extension").unwrap().many);
    assert!(child(p, "modifierExtension").unwrap().many);
    // Bundle derives from Resource directly: no text
    let b = t("Bundle");
    assert_eq!(b.base(), Some(t("Resource")));
    assert!(child(b, "id").is_some());
    assert_eq!(child(b, "text"), None);
    // datatypes get id/extension from Element
    let q = t("Quantity");
    assert_eq!(child(q, "id").unwrap().ty, Some(t("string")));
    assert_eq!(child(q, "value").unwrap().ty, Some(t("decimal")));
    assert_eq!(child(t("Age"), "unit").unwrap().ty, Some(t("string")));
    assert_eq!(child(t("Extension"), "url").unwrap().ty, Some(t("uri")));
    assert_eq!(child(t("Narrative"), "div").unwrap().ty, Some(t("xhtml")));
    let all: Vec<_> = elements(p).map(|c| c.name).collect();
    assert_eq!(&all[..4], ["id", "meta", "implicitRules", "language"]);
    assert!(all.contains(&"deceased") && all.contains(&"link"));
}

#[test]
fn backbones_and_content_references() {
    let contact = child(t("Patient"), "contact").unwrap();
    assert!(contact.many);
    let ty = contact.ty.unwrap();
    assert_eq!(ty, t("Patient.contact"));
    assert!(ty.is_backbone() && !ty.is_resource() && !ty.is_primitive());
    assert_eq!(ty.name(), "Patient.contact");
    assert_eq!(ty.fhirpath_type_name(), "BackboneElement");
    assert_eq!(ty.namespace(), "FHIR");
    let name = child(ty, "name").unwrap();
    assert!(!name.many);
    assert_eq!(name.ty, Some(t("HumanName")));
    assert!(child(ty, "id").is_some());
    assert!(child(ty, "modifierExtension").unwrap().many);
    assert!(is_subtype_of(ty, t("BackboneElement")));
    assert!(is_subtype_of(ty, t("Element")));
    // contentReference: Questionnaire.item.item → Questionnaire.item
    let item = child(t("Questionnaire"), "item").unwrap().ty.unwrap();
    let nested = child(item, "item").unwrap();
    assert!(nested.many);
    assert_eq!(nested.ty, Some(item));
    let link_id = child(nested.ty.unwrap(), "linkId").unwrap();
    assert_eq!(link_id.ty, Some(t("string")));
    // a datatype backbone typed Element
    let repeat = child(t("Timing"), "repeat").unwrap().ty.unwrap();
    assert_eq!(repeat.fhirpath_type_name(), "Element");
    assert_eq!(
        names(choice_types(repeat, "bounds").unwrap()),
        ["Duration", "Range", "Period"]
    );
    // Parameters.parameter.part refers back to Parameters.parameter
    let param = child(t("Parameters"), "parameter").unwrap().ty.unwrap();
    assert_eq!(child(param, "part").unwrap().ty, Some(param));
    assert_eq!(child(param, "resource").unwrap().ty, Some(t("Resource")));
}

#[test]
fn inheritance() {
    let quantity = t("Quantity");
    for q in [
        "Age",
        "Count",
        "Distance",
        "Duration",
        "SimpleQuantity",
        "MoneyQuantity",
    ] {
        assert!(is_subtype_of(t(q), quantity), "{q}");
        assert!(!is_subtype_of(quantity, t(q)), "{q}");
        assert!(is_subtype_of(t(q), t("Element")), "{q}");
    }
    let patient = t("Patient");
    assert!(is_subtype_of(patient, patient));
    assert!(is_subtype_of(patient, t("DomainResource")));
    assert!(is_subtype_of(patient, t("Resource")));
    assert!(!is_subtype_of(patient, t("Element")));
    assert!(!is_subtype_of(t("Resource"), patient));
    assert!(patient.is_resource() && !patient.is_abstract());
    assert!(t("Resource").is_resource() && t("Resource").is_abstract());
    assert!(t("DomainResource").is_abstract());
    for r in ["Bundle", "Binary", "Parameters"] {
        assert!(is_subtype_of(t(r), t("Resource")), "{r}");
        assert!(!is_subtype_of(t(r), t("DomainResource")), "{r}");
    }
    // primitive specialisations
    let (string, uri, integer) = (t("string"), t("uri"), t("integer"));
    for s in ["code", "id", "markdown"] {
        assert!(is_subtype_of(t(s), string), "{s}");
    }
    for u in ["url", "canonical", "oid", "uuid"] {
        assert!(is_subtype_of(t(u), uri), "{u}");
        assert!(!is_subtype_of(t(u), string), "{u}");
    }
    assert!(is_subtype_of(t("positiveInt"), integer));
    assert!(!is_subtype_of(string, t("code")));
    assert!(!is_subtype_of(t("date"), t("dateTime")));
    // System types are a separate namespace
    assert!(!is_subtype_of(string, t("System.String")));
    assert!(!is_subtype_of(t("System.String"), t("Element")));
    assert!(t("System.Integer").base().is_none());
    assert!(t("Element").base().is_none());
}

proptest::proptest! {
    #[test]
    fn any_key_looks_up_without_panicking(key in "\\PC{0,24}", owner in 0usize..700) {
        let all: Vec<&str> = resource_types().collect();
        let ty = t(all.get(owner % all.len()).copied().unwrap_or("Patient"));
        if let Some(c) = child(ty, &key) {
            proptest::prop_assert!(!c.types.is_empty());
        }
        let _ = choice_types(ty, &key);
        let _ = type_named(&key);
    }

    #[test]
    fn any_table_text_parses_or_errs(text in "([TE]\\|[A-Za-z.\\[\\]|,*01]{0,30}\n){0,6}") {
        let text: &'static str = Box::leak(text.into_boxed_str());
        let _ = table::Model::parse(text);
    }
}

#[test]
fn child_ids_and_the_cache_agree_with_child_for_every_element() {
    for name in [
        "Observation",
        "Patient",
        "Extension",
        "Coding",
        "Questionnaire.item",
        "string",
    ] {
        let owner = t(name);
        let cache = ChildCache::new();
        for c in elements(owner).collect::<Vec<_>>() {
            let keys: Vec<String> = if c.choice {
                let mut k: Vec<String> = c
                    .types
                    .iter()
                    .map(|&ty| choice_json_key(c.name, ty))
                    .collect();
                k.push(c.name.to_string());
                k
            } else {
                vec![c.name.to_string(), format!("_{}", c.name)]
            };
            for key in keys {
                let direct = child(owner, &key);
                assert!(direct.is_some(), "{name}.{key}");
                let id = child_id(owner, &key).unwrap();
                assert_eq!(child_by_id(id), direct, "{name}.{key}");
                // A fresh cache per key (a cache serves one key), asked twice.
                let per_key = ChildCache::new();
                assert_eq!(per_key.child(owner, &key), direct, "{name}.{key}");
                assert_eq!(per_key.child(owner, &key), direct, "{name}.{key} cached");
                assert_eq!(
                    per_key.clone().child(owner, &key),
                    direct,
                    "{name}.{key} clone"
                );
            }
        }
        assert_eq!(cache.child(owner, "noSuchElement"), None);
        assert_eq!(cache.child(owner, "noSuchElement"), None);
    }
    // One cache, owners alternating: each answer is for the owner asked about.
    let cache = ChildCache::new();
    let (coding, quantity) = (t("Coding"), t("Quantity"));
    for _ in 0..3 {
        assert_eq!(cache.child(coding, "system"), child(coding, "system"));
        assert_eq!(cache.child(quantity, "system"), child(quantity, "system"));
        assert_eq!(cache.child(t("Patient"), "system"), None);
    }
}
