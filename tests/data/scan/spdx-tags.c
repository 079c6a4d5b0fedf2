// SPDX-License-Identifier: GPL-2.0+
/* SPDX-License-Identifier: (MIT OR Apache-2.0) AND BSD-3-Clause */
# SPDX-License-Identifier: GPL-2.0-only WITH Classpath-exception-2.0
-- SPDX-License-Identifier: LicenseRef-Acme-Proprietary
// SPDX-License-Identifier: NotALicense-1.0 OR isc
// spdx-license-identifier: lgpl-2.1-or-later
/*
 * Written in 2024 to test tags. This sentence mentions the copyright notice, the
 * copyright holders and copyright law, which are not statements. Copyrighted works
 * neither. These are statements:
 * Copyright 2024 The Jobline Authors
 * (C) 2023-2024 Jane Doe <jane.doe@example.org>
 * See https://spdx.org/licenses/ (the list).
 */
int main(void) { return f(c) + 1; }
