// Only for Magefile.go (mage, optional): the standard library, no requirements, so it
// type-checks and runs offline (GOPROXY=off). See README "Build with mage".
module lantern

go 1.19
