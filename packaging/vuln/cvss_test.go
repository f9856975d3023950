package vuln

import "testing"

// TestCVSS3: the examples of the CVSS v3.0 and v3.1 specifications
// ("CVSS v3.1: Examples", FIRST), as NVD scores them.
func TestCVSS3(t *testing.T) {
	for vec, want := range map[string]float64{
		// v3.0 examples document
		"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N": 6.1, // CVE-2013-1937 phpMyAdmin XSS
		"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N": 6.4, // CVE-2013-0375 MySQL stored SQL injection
		"CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N": 3.1, // CVE-2014-3566 POODLE
		"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H": 9.9, // CVE-2012-1516 VMware guest to host escape
		"CVSS:3.0/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L": 4.2, // CVE-2009-0783 Tomcat XML parser
		"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H": 8.8, // CVE-2012-0384 Cisco IOS
		"CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H": 7.8, // CVE-2015-1098 iWork
		"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N": 7.5, // CVE-2014-0160 Heartbleed
		"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8, // CVE-2014-6271 Shellshock
		"CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N": 6.8, // CVE-2008-1447 DNS Kaminsky
		"CVSS:3.0/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 6.8, // CVE-2014-2005 Sophos login bypass
		"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N": 5.8, // CVE-2010-0467 Joomla traversal
		"CVSS:3.0/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H": 9.3, // CVE-2013-6014 Juniper proxy ARP
		"CVSS:3.0/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N": 5.4, // CVE-2014-9253 DokuWiki XSS
		"CVSS:3.0/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 8.8, // CVE-2011-1265 Bluetooth
		"CVSS:3.0/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N": 4.6, // CVE-2014-2019 iOS
		// v3.1 examples document
		"CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H": 7.2, // CVE-2012-0384 with PR:H
		"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:H": 9.0, // CVE-2019-7551 Cantemo XSS
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H": 8.8, // CVE-2015-0970 SearchBlox CSRF
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H": 10,  // CVE-2021-44228 log4shell (NVD)
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H": 7.5, // RHSA-2024:4546 (CVE-2023-45288)
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N": 0,
		"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N": 1.6,
		// temporal and environmental metrics do not change the base score
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C/CR:L/MAV:P": 9.8,
	} {
		got, err := CVSS3(vec)
		if err != nil || got != want {
			t.Errorf("CVSS3(%s) = %v, %v; want %v", vec, got, err, want)
		}
	}
	for _, bad := range []string{"", "CVSS:3.1/AV:N", "CVSS:2.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:X", "CVSS:3.1/AV:J/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:L",
		"CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A", "CVSS:3.1/"} {
		if s, err := CVSS3(bad); err == nil {
			t.Errorf("CVSS3(%q) = %v, want an error", bad, s)
		}
	}
}

// TestCVSS4: the examples of the CVSS v4.0 examples document (FIRST), the
// regression vectors of the reference calculator's test suite, and the
// CVSS-B/BT/BE/BTE nomenclature (threat and environmental metrics count).
func TestCVSS4(t *testing.T) {
	for vec, want := range map[string]float64{
		"CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N":                                                                              7.3, // CVE-2022-41741
		"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N":                                                                              7.7, // CVE-2020-3549
		"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U":                                                                          5.2, // CVE-2020-3549 with threat
		"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N":                                                                              8.3, // CVE-2023-3089
		"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N/CR:H/IR:L/AR:L/MAV:N/MAC:H/MVC:H/MVI:L/MVA:L":                                 8.1, // CVE-2023-3089 environmental
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N":                                                                              4.6, // CVE-2021-44714
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N":                                                                              5.1, // CVE-2022-21830
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N":                                                                              6.9, // CVE-2022-22186
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:N/VI:N/VA:N/SC:H/SI:N/SA:N":                                                                              5.9, // CVE-2023-21989
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H":                                                                              9.4, // CVE-2020-3947
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:H/VA:N/SC:H/SI:H/SA:H":                                                                              9.3, // CVE-2023-48228
		"CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:H/SA:N/S:P/V:D":                                                                      8.3, // CVE-2023-30560 (supplemental metrics)
		"CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P":                                                                          8.2, // CVE-2024-6387
		"CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P/MAC:L/MAT:N/MVC:N/MVI:N/MVA:L":                                            5.5, // log4shell environmental
		"CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:H/SI:N/SA:H":                                                                              6.4, // CVE-2013-6014
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N/E:A":                                                                          8.7, // Heartbleed
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A":                                                                          9.3, // log4shell
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/R:I":                                                                          8.4, // CVE-2016-5729
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:L/SC:N/SI:N/SA:N/E:A/MAV:A":                                                                    8.7, // calculator's doc example
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H":                                                                              10,
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N":                                                                              0,
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N":                                                                              9.3,
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:H":                                                                              7.9,
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U":                                                                          9.1,
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/MVI:L/MSA:S":                                                                  9.8,
		"CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N":                                                                              1.0,
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L":                                                                              5.2,
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L/E:P/CR:H/IR:M/AR:H/MAV:A/MAT:P/MPR:N/MVI:H/MVA:N/MSI:H/MSA:N/S:N/V:C/U:Amber": 4.7,
		"CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:N/VC:N/VI:N/VA:H/SC:H/SI:H/SA:H/CR:L/IR:L/AR:L":                                                               5.8,
		"CVSS:4.0/AV:L/AC:H/AT:N/PR:H/UI:N/VC:L/VI:L/VA:L/SC:H/SI:H/SA:H":                                                                              5.0, // CVE-2024-11193 (rounding)
		"CVSS:4.0/AV:L/AC:H/AT:N/PR:N/UI:A/VC:L/VI:H/VA:N/SC:N/SI:N/SA:N":                                                                              5.7, // CVE-2025-27498 (rounding)
	} {
		got, err := CVSS4(vec)
		if err != nil || got != want {
			t.Errorf("CVSS4(%s) = %v, %v; want %v", vec, got, err, want)
		}
	}
	for _, bad := range []string{"CVSS:4.0/AV:F/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/ui:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/SC:N/SI:N/SA:N",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:4.0/AV:N/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"} {
		if s, err := CVSS4(bad); err == nil {
			t.Errorf("CVSS4(%q) = %v, want an error", bad, s)
		}
	}
}

// TestCVSS2: the CVSS v2 guide's examples (section 3.3).
func TestCVSS2(t *testing.T) {
	for vec, want := range map[string]float64{
		"AV:N/AC:L/Au:N/C:N/I:N/A:C":                7.8, // CVE-2002-0392
		"AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C": 7.8,
		"AV:N/AC:L/Au:N/C:C/I:C/A:C":                10.0, // CVE-2003-0818
		"AV:L/AC:H/Au:N/C:C/I:C/A:C":                6.2,  // CVE-2003-0062
		"AV:N/AC:M/Au:N/C:P/I:P/A:P":                6.8,
		"AV:N/AC:L/Au:N/C:N/I:N/A:N":                0,
	} {
		got, err := CVSS2(vec)
		if err != nil || got != want {
			t.Errorf("CVSS2(%s) = %v, %v; want %v", vec, got, err, want)
		}
	}
	if _, err := CVSS2("AV:N/AC:L"); err == nil {
		t.Error("CVSS2 accepted an incomplete vector")
	}
}

func TestRating(t *testing.T) {
	for s, want := range map[float64]Severity{10: SeverityCritical, 9.0: SeverityCritical, 8.9: SeverityHigh, 7.0: SeverityHigh,
		6.9: SeverityMedium, 4.0: SeverityMedium, 3.9: SeverityLow, 0.1: SeverityLow, 0: SeverityLow} {
		if got := ratingOf(s); got != want {
			t.Errorf("ratingOf(%v) = %s, want %s", s, got, want)
		}
	}
	for in, want := range map[string]Severity{"critical": SeverityCritical, "MODERATE": SeverityMedium, " High ": SeverityHigh, "low": SeverityLow, "unknown": SeverityUnknown} {
		if got, err := ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %s, %v", in, got, err)
		}
	}
	if _, err := ParseSeverity("important"); err == nil {
		t.Error("ParseSeverity accepted important")
	}
}

// TestScoreCacheKeys: the score cache is per CVSS version (a v3 vector
// refused as v4 is still a valid v3 vector).
func TestScoreCacheKeys(t *testing.T) {
	v3 := "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"
	if _, err := CVSS4(v3); err == nil {
		t.Fatal("CVSS4 accepted a v3 vector")
	}
	if _, err := CVSS2(v3); err == nil {
		t.Fatal("CVSS2 accepted a v3 vector")
	}
	if s, err := CVSS3(v3); err != nil || s != 6.5 {
		t.Fatalf("CVSS3 after the others: %v %v", s, err)
	}
}
