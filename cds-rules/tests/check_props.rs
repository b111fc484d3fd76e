//! Property tests: the checker never panics, whatever the tree: trees parsed from arbitrary
//! text, from cut fixtures, from generated rulesets (formatted and parsed again, so spans
//! are real), generated trees whose spans do not match the text, and very deep trees.

use cds_rules::ast::*;
use proptest::prelude::*;
use rust_decimal::Decimal;

const Z: Span = Span { start: 0, end: 0 };

fn check_text(src: &str) {
    if let Ok(rs) = cds_rules::parse(src, "any.rules") {
        let report = cds_rules::check(&rs, src, "any.rules");
        for d in report.diagnostics() {
            assert!(d.span.start <= d.span.end && d.span.end <= src.len());
            assert!(src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end));
            assert!(!d.message.is_empty() && !d.label.is_empty());
        }
        let _ = report.into_result();
    }
}

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
        Just("creatinine".to_string()),
        Just("r".to_string()),
    ]
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (-1000i64..1000, 0u32..3)
        .prop_map(|(m, s)| Decimal::new(m, s))
        .prop_filter("no negative zero", |d| {
            !(d.is_zero() && d.is_sign_negative())
        })
}

fn unit() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("mm[Hg]".to_string()),
        Just("kPa".to_string()),
        Just("mg/dL".to_string()),
        Just("mg/dl".to_string()),
        Just("%".to_string()),
        Just("/min".to_string()),
        Just("Cel".to_string()),
        Just("[degF]".to_string()),
        Just("kg".to_string()),
        Just("mmHg".to_string()),
        Just("a".to_string()),
        Just("{score}".to_string()),
        Just("10*3/uL".to_string()),
    ]
}

fn plain_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .,:/%#(){}\"\\\\\n-]{0,16}"
}

fn code_spec() -> impl Strategy<Value = CodeSpec> {
    let loinc = prop_oneof![
        Just("8480-6"),
        Just("8480-5"),
        Just("9279-1"),
        Just("59408-5"),
        Just("2160-0"),
        Just("67775-7"),
        Just("84806"),
        Just("LA6576-8"),
    ]
    .prop_map(|c| CodeSpecKind::Known {
        system: KnownSystem::Loinc,
        code: c.to_string(),
    });
    let known = (
        prop_oneof![
            Just(KnownSystem::Snomed),
            Just(KnownSystem::RxNorm),
            Just(KnownSystem::Icd10)
        ],
        "[0-9A-Z][0-9A-Z.-]{0,8}",
    )
        .prop_map(|(system, code)| CodeSpecKind::Known { system, code });
    let explicit = (
        prop_oneof![
            Just("http://loinc.org".to_string()),
            Just("LOINC".to_string()),
            Just(String::new()),
            plain_text()
        ],
        plain_text(),
    )
        .prop_map(|(system, code)| CodeSpecKind::Explicit { system, code });
    let vs = prop_oneof![Just("http://x.org/ValueSet/a".to_string()), plain_text()]
        .prop_map(CodeSpecKind::ValueSet);
    prop_oneof![loinc, known, explicit, vs].prop_map(|kind| CodeSpec { kind, span: Z })
}

fn window() -> impl Strategy<Value = Option<Window>> {
    proptest::option::of(
        (1u32..100, Just(TimeUnit::Days)).prop_map(|(amount, unit)| Window {
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
        code_spec().prop_map(|code| e(ExprKind::Active {
            kind: ActiveKind::Condition,
            code
        })),
        Just(e(ExprKind::FhirPath(Text {
            value: "Patient.gender = 'female'".to_string(),
            span: Z
        }))),
    ]
}

fn boxed(x: Expr) -> Box<Expr> {
    Box::new(x)
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge),
        Just(CmpOp::Eq),
        Just(CmpOp::Ne)
    ]
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
        let band_range = prop_oneof![
            (cmp_op(), literal_bound()).prop_map(|(op, bound)| BandRange::Compare { op, bound }),
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
            (cmp_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(ExprKind::Compare {
                op,
                lhs: boxed(l),
                rhs: boxed(r)
            })),
            (cmp_op(), inner.clone(), literal_bound()).prop_map(|(op, l, r)| e(
                ExprKind::Compare {
                    op,
                    lhs: boxed(l),
                    rhs: boxed(r)
                }
            )),
            (inner.clone(), any::<bool>()).prop_map(|(x, present)| e(ExprKind::Presence {
                of: boxed(x),
                present
            })),
            (inner.clone(), code_spec())
                .prop_map(|(x, code)| e(ExprKind::HasCode { of: boxed(x), code })),
            (inner.clone(), unit())
                .prop_map(|(x, unit)| e(ExprKind::Convert { of: boxed(x), unit })),
            (inner.clone(), 0u32..4).prop_map(|(x, places)| e(ExprKind::Round {
                of: boxed(x),
                places
            })),
            (inner.clone(), literal_bound(), literal_bound()).prop_map(|(x, l, h)| e(
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
                    Just(AggregateFn::Average)
                ],
                inner.clone()
            )
                .prop_map(|(func, x)| e(ExprKind::Aggregate { func, of: boxed(x) })),
            (
                prop_oneof![Just(ChangeKind::Change), Just(ChangeKind::Rise)],
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
                proptest::collection::vec((band_range, literal_bound()), 1..5),
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
    let json = prop_oneof![
        Just("{ \"resourceType\": \"ServiceRequest\" }".to_string()),
        Just("{ \"resourceType\": \"ServiceReqest\" }".to_string()),
        Just("{ \"status\": \"draft\" }".to_string()),
        Just("[1, 2]".to_string()),
    ];
    let reference = prop_oneof![Just("MedicationRequest/{id}".to_string()), plain_text()];
    let body = |kind, value| Action {
        kind,
        body: Text { value, span: Z },
        span: Z,
    };
    prop_oneof![
        (
            prop_oneof![Just(ActionKind::Create), Just(ActionKind::Update)],
            json
        )
            .prop_map(move |(k, v)| body(k, v)),
        reference.prop_map(move |v| body(ActionKind::Delete, v)),
    ]
}

fn card() -> impl Strategy<Value = Card> {
    (
        template(),
        proptest::option::of(template()),
        proptest::option::of((text(), proptest::option::of(text()))),
        proptest::collection::vec((text(), text()), 0..2),
        proptest::collection::vec((text(), proptest::collection::vec(action(), 1..3)), 0..2),
        proptest::collection::vec(action(), 0..2),
    )
        .prop_map(
            |(summary, detail, source, links, sugg, system_actions)| Card {
                indicator: Indicator::Info,
                indicator_span: Z,
                summary,
                detail,
                source: source.map(|(label, url)| Source {
                    label,
                    url,
                    icon: None,
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
                override_reasons: Vec::new(),
                system_actions,
            },
        )
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        3 => (name(), expr()).prop_map(|(n, value)| Item::Define(Define {
            comments: Vec::new(),
            name: ident(&n),
            value,
            span: Z
        })),
        1 => (name(), "[a-z0-9 ;+=\n{}_]{0,30}[a-z;]").prop_map(|(n, script)| {
            Item::Score(Score {
                comments: Vec::new(),
                name: ident(&n),
                script: Text {
                    value: script,
                    span: Z,
                },
                span: Z,
            })
        }),
        3 => (prop_oneof![Just("r".to_string()), "[a-z][a-z0-9]{0,4}"], expr(), card()).prop_map(
            |(id, when, card)| Item::Rule(Rule {
                comments: Vec::new(),
                id: ident(&id),
                when,
                card,
                span: Z,
            })
        ),
    ]
}

fn ruleset() -> impl Strategy<Value = Ruleset> {
    (
        proptest::option::of(text()),
        proptest::collection::vec(
            prop_oneof![
                Just("patient-view".to_string()),
                Just("patient-veiw".to_string()),
                "[a-z]{1,6}(-[a-z]{1,6})?"
            ],
            0..3,
        ),
        proptest::collection::vec(item(), 0..6),
    )
        .prop_map(|(description, answers, items)| Ruleset {
            header: Header {
                comments: Vec::new(),
                name: ident("gen"),
                version: Version {
                    major: 1,
                    minor: 0,
                    patch: 0,
                    pre: None,
                    span: Z,
                },
                description,
                answers: answers.iter().map(|a| ident(a)).collect(),
                span: Z,
            },
            items,
            trailing_comments: Vec::new(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        check_text(&src);
    }

    #[test]
    fn arbitrary_text_after_a_header_never_panics(
        body in "(define [a-z]{1,3} = |rule [a-z]{1,3} when |[a-z0-9 '\"\n(){}<>=#/.-]){0,20}"
    ) {
        check_text(&format!("ruleset x version 1.0.0\n{body}"));
    }

    #[test]
    fn fixture_cut_anywhere_never_panics(cut in 0usize..4000, junk in "\\PC{0,5}") {
        let src = include_str!("fixtures/everything.rules");
        let mut at = cut.min(src.len());
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        check_text(&format!("{}{junk}{}", &src[..at], &src[at..]));
    }

    #[test]
    fn generated_rulesets_never_panic(rs in ruleset()) {
        // Parsed again from its formatted text, so that spans are real.
        let text = cds_rules::format(&rs);
        prop_assert!(cds_rules::parse(&text, "gen.rules").is_ok(), "{}", text);
        check_text(&text);
        // The generated tree itself, with spans that do not match the text.
        let report = cds_rules::check(&rs, "", "gen.rules");
        let _ = report.into_result();
        let report = cds_rules::check(&rs, &text[..text.len() / 2], "gen.rules");
        prop_assert!(report.diagnostics().iter().all(|d| d.span.end <= text.len() / 2));
    }
}

fn deep() -> Expr {
    let mut x = e(ExprKind::Name("x".to_string()));
    for i in 0..3000 {
        x = match i % 4 {
            0 => e(ExprKind::Not(boxed(x))),
            1 => e(ExprKind::Binary {
                op: BinaryOp::And,
                lhs: boxed(x),
                rhs: boxed(e(ExprKind::Bool(false))),
            }),
            2 => e(ExprKind::Neg(boxed(x))),
            _ => e(ExprKind::Compare {
                op: CmpOp::Gt,
                lhs: boxed(x),
                rhs: boxed(e(ExprKind::Number(Decimal::ONE))),
            }),
        };
    }
    x
}

#[test]
fn very_deep_trees_do_not_overflow_the_stack() {
    let rs = Ruleset {
        header: Header {
            comments: Vec::new(),
            name: ident("deep"),
            version: Version {
                major: 1,
                minor: 0,
                patch: 0,
                pre: None,
                span: Z,
            },
            description: None,
            answers: Vec::new(),
            span: Z,
        },
        items: vec![
            Item::Define(Define {
                comments: Vec::new(),
                name: ident("x"),
                value: deep(),
                span: Z,
            }),
            Item::Rule(Rule {
                comments: Vec::new(),
                id: ident("r"),
                when: deep(),
                card: Card {
                    indicator: Indicator::Info,
                    indicator_span: Z,
                    summary: Template {
                        parts: Vec::new(),
                        span: Z,
                    },
                    detail: None,
                    source: None,
                    links: Vec::new(),
                    suggestions: Vec::new(),
                    override_reasons: Vec::new(),
                    system_actions: Vec::new(),
                },
                span: Z,
            }),
        ],
        trailing_comments: Vec::new(),
    };
    // Checked on a thread with a small stack: the checker's depth limit must hold.
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let report = cds_rules::check(&rs, "", "deep.rules");
            let n = report.diagnostics().len();
            // Drop the trees node by node: the derived drop would recurse.
            let mut stack = Vec::new();
            for item in rs.items {
                match item {
                    Item::Define(d) => stack.push(d.value),
                    Item::Rule(r) => stack.push(r.when),
                    Item::Score(_) => {}
                }
            }
            while let Some(mut e) = stack.pop() {
                match std::mem::replace(&mut e.kind, ExprKind::Age) {
                    ExprKind::Not(x) | ExprKind::Neg(x) => stack.push(*x),
                    ExprKind::Binary { lhs, rhs, .. } | ExprKind::Compare { lhs, rhs, .. } => {
                        stack.push(*lhs);
                        stack.push(*rhs);
                    }
                    _ => {}
                }
            }
            n
        })
        .expect("thread");
    let n = handle.join().expect("the checker overflowed or panicked");
    assert!(n >= 1, "the cycle x = ... x ... is reported");
}
