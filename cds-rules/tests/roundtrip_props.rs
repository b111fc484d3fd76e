//! Property tests: arbitrary text never panics the parser; for generated rulesets,
//! formatting is idempotent and parsing the formatted text gives the same tree.

use cds_rules::ast::*;
use proptest::prelude::*;
use rust_decimal::Decimal;

const Z: Span = Span { start: 0, end: 0 };

fn ident(s: &str) -> Ident {
    Ident {
        name: s.to_string(),
        span: Z,
    }
}

fn e(kind: ExprKind) -> Expr {
    Expr { kind, span: Z }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("sbp".to_string()),
        Just("rr-points".to_string()),
        Just("x1".to_string()),
        Just("on_oxygen".to_string()),
        Just("creatinine".to_string()),
    ]
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (-100_000i64..100_000, 0u32..3)
        .prop_map(|(m, s)| Decimal::new(m, s))
        .prop_filter("no negative zero", |d| {
            !(d.is_zero() && d.is_sign_negative())
        })
}

fn unit() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("mm[Hg]".to_string()),
        Just("mg/dL".to_string()),
        Just("%".to_string()),
        Just("/min".to_string()),
        Just("Cel".to_string()),
    ]
}

fn plain_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .,:/%#(){}\"\\\\\n-]{0,16}"
}

fn code_spec() -> impl Strategy<Value = CodeSpec> {
    let known = (
        prop_oneof![
            Just(KnownSystem::Loinc),
            Just(KnownSystem::Snomed),
            Just(KnownSystem::RxNorm),
            Just(KnownSystem::Icd10)
        ],
        "[0-9A-Z][0-9A-Z.-]{0,8}",
    )
        .prop_map(|(system, code)| CodeSpecKind::Known { system, code });
    let explicit = (plain_text(), plain_text())
        .prop_map(|(system, code)| CodeSpecKind::Explicit { system, code });
    let vs = plain_text().prop_map(CodeSpecKind::ValueSet);
    prop_oneof![known, explicit, vs].prop_map(|kind| CodeSpec { kind, span: Z })
}

fn window() -> impl Strategy<Value = Option<Window>> {
    proptest::option::of(
        (
            1u32..1000,
            prop_oneof![
                Just(TimeUnit::Minutes),
                Just(TimeUnit::Hours),
                Just(TimeUnit::Days),
                Just(TimeUnit::Weeks),
                Just(TimeUnit::Months),
                Just(TimeUnit::Years)
            ],
        )
            .prop_map(|(amount, unit)| Window {
                amount,
                unit,
                span: Z,
            }),
    )
}

fn literal_bound() -> impl Strategy<Value = Expr> {
    prop_oneof![
        decimal().prop_map(|d| e(ExprKind::Number(d))),
        (decimal(), unit()).prop_map(|(value, unit)| e(ExprKind::Quantity { value, unit })),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        literal_bound(),
        plain_text().prop_map(|s| e(ExprKind::Text(s))),
        any::<bool>().prop_map(|b| e(ExprKind::Bool(b))),
        name().prop_map(|n| e(ExprKind::Name(n))),
        Just(e(ExprKind::Age)),
        (
            prop_oneof![Just(Which::Latest), Just(Which::Earliest), Just(Which::All)],
            code_spec(),
            window()
        )
            .prop_map(|(which, code, window)| e(ExprKind::Query(Query {
                which,
                code,
                window
            }))),
        (
            prop_oneof![
                Just(ActiveKind::Condition),
                Just(ActiveKind::Medication),
                Just(ActiveKind::OrderedMedication)
            ],
            code_spec()
        )
            .prop_map(|(kind, code)| e(ExprKind::Active { kind, code })),
        prop_oneof![
            Just("Patient.gender = 'female'"),
            Just("Observation.value.ofType(Quantity).value > 5"),
            Just("name.given.first()")
        ]
        .prop_map(|t| e(ExprKind::FhirPath(Text {
            value: t.to_string(),
            span: Z
        }))),
    ]
}

fn boxed(x: Expr) -> Box<Expr> {
    Box::new(x)
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        let binop = prop_oneof![
            Just(BinaryOp::Or),
            Just(BinaryOp::And),
            Just(BinaryOp::Add),
            Just(BinaryOp::Sub),
            Just(BinaryOp::Mul),
            Just(BinaryOp::Div)
        ];
        let cmp = prop_oneof![
            Just(CmpOp::Lt),
            Just(CmpOp::Le),
            Just(CmpOp::Gt),
            Just(CmpOp::Ge),
            Just(CmpOp::Eq),
            Just(CmpOp::Ne)
        ];
        let band_range = prop_oneof![
            (cmp.clone(), literal_bound()).prop_map(|(op, bound)| BandRange::Compare { op, bound }),
            (literal_bound(), literal_bound())
                .prop_map(|(low, high)| BandRange::Span { low, high }),
            literal_bound().prop_map(BandRange::Exact),
        ];
        prop_oneof![
            inner.clone().prop_map(|x| e(ExprKind::Not(boxed(x)))),
            inner
                .clone()
                .prop_filter("negative literals are numbers", |x| !matches!(
                    x.kind,
                    ExprKind::Number(_) | ExprKind::Quantity { .. }
                ))
                .prop_map(|x| e(ExprKind::Neg(boxed(x)))),
            (binop, inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(ExprKind::Binary {
                op,
                lhs: boxed(l),
                rhs: boxed(r)
            })),
            (cmp, inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(ExprKind::Compare {
                op,
                lhs: boxed(l),
                rhs: boxed(r)
            })),
            (inner.clone(), any::<bool>()).prop_map(|(x, present)| e(ExprKind::Presence {
                of: boxed(x),
                present
            })),
            (inner.clone(), code_spec())
                .prop_map(|(x, code)| e(ExprKind::HasCode { of: boxed(x), code })),
            (
                inner.clone(),
                prop_oneof![Just("Cel"), Just("mm[Hg]"), Just("/min")]
            )
                .prop_map(|(x, unit)| e(ExprKind::Convert {
                    of: boxed(x),
                    unit: unit.to_string()
                })),
            (inner.clone(), 0u32..4).prop_map(|(x, places)| e(ExprKind::Round {
                of: boxed(x),
                places
            })),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(x, l, h)| e(
                ExprKind::Between {
                    of: boxed(x),
                    low: boxed(l),
                    high: boxed(h)
                }
            )),
            (
                prop_oneof![
                    Just(AggregateFn::Count),
                    Just(AggregateFn::Min),
                    Just(AggregateFn::Max),
                    Just(AggregateFn::Average),
                    Just(AggregateFn::Sum)
                ],
                inner.clone()
            )
                .prop_map(|(func, x)| e(ExprKind::Aggregate { func, of: boxed(x) })),
            (
                prop_oneof![
                    Just(ChangeKind::Change),
                    Just(ChangeKind::Rise),
                    Just(ChangeKind::Fall)
                ],
                inner.clone(),
                window()
            )
                .prop_map(|(kind, x, window)| e(ExprKind::Change {
                    kind,
                    of: boxed(x),
                    window
                })),
            (
                proptest::collection::vec((inner.clone(), inner.clone()), 1..3),
                proptest::option::of(inner.clone())
            )
                .prop_map(|(arms, otherwise)| e(ExprKind::Case {
                    arms: arms
                        .into_iter()
                        .map(|(when, then)| CaseArm {
                            when,
                            then,
                            span: Z
                        })
                        .collect(),
                    otherwise: otherwise.map(boxed)
                })),
            (
                inner.clone(),
                proptest::collection::vec((band_range, inner.clone()), 1..4),
                proptest::option::of(inner)
            )
                .prop_map(|(of, rows, otherwise)| e(ExprKind::Bands {
                    of: boxed(of),
                    rows: rows
                        .into_iter()
                        .map(|(range, value)| BandRow {
                            range,
                            value,
                            span: Z
                        })
                        .collect(),
                    otherwise: otherwise.map(boxed)
                })),
        ]
    })
}

fn template() -> impl Strategy<Value = Template> {
    proptest::collection::vec((plain_text(), proptest::option::of(name())), 0..3).prop_map(
        |pieces| {
            let mut parts = Vec::new();
            for (t, n) in pieces {
                if !t.is_empty() && !matches!(parts.last(), Some(TemplatePart::Text(_))) {
                    parts.push(TemplatePart::Text(t));
                }
                if let Some(n) = n {
                    parts.push(TemplatePart::Name(ident(&n)));
                }
            }
            Template { parts, span: Z }
        },
    )
}

fn text() -> impl Strategy<Value = Text> {
    plain_text().prop_map(|value| Text { value, span: Z })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        prop_oneof![
            Just("{ \"resourceType\": \"ServiceRequest\" }"),
            Just("{\n  \"resourceType\": \"Flag\",\n  \"status\": \"active\"\n}"),
            Just("[1, 2]")
        ]
        .prop_flat_map(|body| prop_oneof![
            Just(ActionKind::Create),
            Just(ActionKind::Update)
        ]
        .prop_map(move |kind| Action {
            kind,
            body: Text {
                value: body.to_string(),
                span: Z
            },
            span: Z
        })),
        text().prop_map(|body| Action {
            kind: ActionKind::Delete,
            body,
            span: Z
        }),
    ]
}

fn comments() -> impl Strategy<Value = Vec<Comment>> {
    proptest::collection::vec("(#|//)[ a-z]{0,10}", 0..2).prop_map(|cs| {
        cs.into_iter()
            .map(|t| Comment {
                text: t.trim_end().to_string(),
                span: Z,
            })
            .collect()
    })
}

fn card() -> impl Strategy<Value = Card> {
    (
        prop_oneof![
            Just(Indicator::Info),
            Just(Indicator::Warning),
            Just(Indicator::Critical)
        ],
        template(),
        proptest::option::of(template()),
        proptest::option::of((
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
        )),
        proptest::collection::vec((text(), text()), 0..2),
        proptest::collection::vec((text(), proptest::collection::vec(action(), 1..3)), 0..2),
        proptest::collection::vec((text(), text()), 0..2),
        proptest::collection::vec(action(), 0..2),
    )
        .prop_map(
            |(indicator, summary, detail, source, links, sugg, overrides, system_actions)| Card {
                indicator,
                indicator_span: Z,
                summary,
                detail,
                source: source.map(|(label, url, icon)| Source {
                    label,
                    url,
                    icon,
                    span: Z,
                }),
                links: links
                    .into_iter()
                    .map(|(label, url)| Link {
                        label,
                        url,
                        span: Z,
                    })
                    .collect(),
                suggestions: sugg
                    .into_iter()
                    .map(|(label, actions)| Suggestion {
                        label,
                        actions,
                        span: Z,
                    })
                    .collect(),
                override_reasons: overrides
                    .into_iter()
                    .map(|(code, display)| OverrideReason {
                        code,
                        display,
                        span: Z,
                    })
                    .collect(),
                system_actions,
            },
        )
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (comments(), name(), expr()).prop_map(|(comments, n, value)| Item::Define(Define {
            comments,
            name: ident(&n),
            value,
            span: Z
        })),
        (comments(), name(), "[a-z0-9 ;+=\n{}#\"]{0,30}[a-z;]").prop_map(
            |(comments, n, script)| {
                Item::Score(Score {
                    comments,
                    name: ident(&n),
                    script: Text {
                        value: script.replace("\"\"\"", "\""),
                        span: Z,
                    },
                    span: Z,
                })
            }
        ),
        (
            comments(),
            "[a-z][a-z0-9]{0,4}(-[a-z0-9]{1,3})?",
            expr(),
            card()
        )
            .prop_map(|(comments, id, when, card)| {
                Item::Rule(Rule {
                    comments,
                    id: ident(&id),
                    when,
                    card,
                    span: Z,
                })
            }),
    ]
}

fn ruleset() -> impl Strategy<Value = Ruleset> {
    (
        comments(),
        "[a-z][a-z0-9]{0,4}(-[a-z0-9]{1,3})?",
        (
            0u64..20,
            0u64..20,
            0u64..20,
            proptest::option::of("[a-z0-9]{1,5}"),
        ),
        proptest::option::of(text()),
        proptest::collection::vec("[a-z]{1,6}(-[a-z]{1,6})?", 0..3),
        proptest::collection::vec(item(), 0..5),
        comments(),
    )
        .prop_map(
            |(hc, name, (major, minor, patch, pre), description, answers, items, trailing)| {
                Ruleset {
                    header: Header {
                        comments: hc,
                        name: ident(&name),
                        version: Version {
                            major,
                            minor,
                            patch,
                            pre,
                            span: Z,
                        },
                        description,
                        answers: answers.iter().map(|a| ident(a)).collect(),
                        span: Z,
                    },
                    items,
                    trailing_comments: trailing,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        let _ = cds_rules::parse(&src, "any.rules");
    }

    #[test]
    fn arbitrary_text_after_a_header_never_panics(body in "[a-z0-9 '\"\n(){}<>=#/.-]{0,200}") {
        let src = format!("ruleset x version 1.0.0\n{body}");
        let _ = cds_rules::parse(&src, "any.rules");
    }

    #[test]
    fn fixture_cut_anywhere_never_panics(cut in 0usize..4000, junk in "\\PC{0,5}") {
        let src = include_str!("fixtures/everything.rules");
        let mut at = cut.min(src.len());
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        let text = format!("{}{junk}{}", &src[..at], &src[at..]);
        let _ = cds_rules::parse(&text, "cut.rules");
    }

    #[test]
    fn format_roundtrips(rs in ruleset()) {
        let text = cds_rules::format(&rs);
        let parsed = match cds_rules::parse(&text, "gen.rules") {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{e:?}\n--- text ---\n{text}"))),
        };
        prop_assert_eq!(parsed.without_spans(), rs.without_spans(), "text:\n{}", text);
        prop_assert_eq!(cds_rules::format(&parsed), text);
    }
}
